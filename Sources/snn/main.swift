import SNNCommands

SNNCommand.main()
