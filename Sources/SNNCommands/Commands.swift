import SNN
