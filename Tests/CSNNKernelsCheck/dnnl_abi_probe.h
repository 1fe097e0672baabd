// What dnnl_abi_check.c compares between Sources/CSNNKernels/dnnl_abi.h and the installed oneDNN
// headers: PROBE(expression) for every size, field offset and constant that dnnl_abi.h declares.
// Included twice, once beside each set of declarations.
#define SNN_DNNL_ABI_PROBES(PROBE)                                                            \
    PROBE(DNNL_MAX_NDIMS)                                                                     \
    PROBE(DNNL_RNN_MAX_N_PARTS)                                                               \
    PROBE(sizeof(dnnl_dim_t))                                                                 \
    PROBE(sizeof(dnnl_dims_t))                                                                \
    /* enums: size and every enumerator used */                                               \
    PROBE(sizeof(dnnl_status_t))                                                              \
    PROBE(dnnl_success)                                                                       \
    PROBE(dnnl_out_of_memory)                                                                 \
    PROBE(dnnl_invalid_arguments)                                                             \
    PROBE(dnnl_unimplemented)                                                                 \
    PROBE(dnnl_iterator_ends)                                                                 \
    PROBE(dnnl_runtime_error)                                                                 \
    PROBE(dnnl_not_required)                                                                  \
    PROBE(sizeof(dnnl_data_type_t))                                                           \
    PROBE(dnnl_data_type_undef)                                                               \
    PROBE(dnnl_f32)                                                                           \
    PROBE(sizeof(dnnl_format_kind_t))                                                         \
    PROBE(dnnl_format_kind_undef)                                                             \
    PROBE(dnnl_format_kind_any)                                                               \
    PROBE(dnnl_blocked)                                                                       \
    PROBE(dnnl_format_kind_wino)                                                              \
    PROBE(dnnl_format_kind_rnn_packed)                                                        \
    PROBE(sizeof(dnnl_format_tag_t))                                                          \
    PROBE(dnnl_format_tag_undef)                                                              \
    PROBE(dnnl_format_tag_any)                                                                \
    PROBE(dnnl_x)                                                                             \
    PROBE(dnnl_nchw)                                                                          \
    PROBE(dnnl_oihw)                                                                          \
    PROBE(dnnl_goihw)                                                                         \
    PROBE(dnnl_nChw16c)                                                                       \
    PROBE(dnnl_nChw8c)                                                                        \
    PROBE(sizeof(dnnl_prop_kind_t))                                                           \
    PROBE(dnnl_prop_kind_undef)                                                               \
    PROBE(dnnl_forward_training)                                                              \
    PROBE(sizeof(dnnl_primitive_kind_t))                                                      \
    PROBE(dnnl_undefined_primitive)                                                           \
    PROBE(sizeof(dnnl_alg_kind_t))                                                            \
    PROBE(dnnl_alg_kind_undef)                                                                \
    PROBE(dnnl_convolution_direct)                                                            \
    PROBE(sizeof(dnnl_engine_kind_t))                                                         \
    PROBE(dnnl_any_engine)                                                                    \
    PROBE(dnnl_cpu)                                                                           \
    PROBE(dnnl_gpu)                                                                           \
    PROBE(sizeof(dnnl_stream_flags_t))                                                        \
    PROBE(dnnl_stream_in_order)                                                               \
    PROBE(dnnl_stream_default_flags)                                                          \
    PROBE(sizeof(dnnl_scratchpad_mode_t))                                                     \
    PROBE(dnnl_scratchpad_mode_library)                                                       \
    PROBE(dnnl_scratchpad_mode_user)                                                          \
    PROBE(sizeof(dnnl_query_t))                                                               \
    PROBE(dnnl_query_undef)                                                                   \
    PROBE(dnnl_query_scratchpad_md)                                                           \
    PROBE(dnnl_query_exec_arg_md)                                                             \
    PROBE(dnnl_query_max)                                                                     \
    PROBE(DNNL_ARG_SRC)                                                                       \
    PROBE(DNNL_ARG_FROM)                                                                      \
    PROBE(DNNL_ARG_DST)                                                                       \
    PROBE(DNNL_ARG_TO)                                                                        \
    PROBE(DNNL_ARG_WEIGHTS)                                                                   \
    PROBE(DNNL_ARG_BIAS)                                                                      \
    PROBE(DNNL_ARG_SCRATCHPAD)                                                                \
    PROBE(DNNL_ARG_DIFF_SRC)                                                                  \
    PROBE(DNNL_ARG_DIFF_DST)                                                                  \
    PROBE(DNNL_ARG_DIFF_WEIGHTS)                                                              \
    PROBE(DNNL_ARG_DIFF_BIAS)                                                                 \
    /* structures: size, alignment and the offset of every field */                           \
    PROBE(sizeof(dnnl_blocking_desc_t))                                                       \
    PROBE(offsetof(dnnl_blocking_desc_t, strides))                                            \
    PROBE(offsetof(dnnl_blocking_desc_t, inner_nblks))                                        \
    PROBE(offsetof(dnnl_blocking_desc_t, inner_blks))                                         \
    PROBE(offsetof(dnnl_blocking_desc_t, inner_idxs))                                         \
    PROBE(sizeof(dnnl_wino_desc_t))                                                           \
    PROBE(offsetof(dnnl_wino_desc_t, adj_scale))                                              \
    PROBE(offsetof(dnnl_wino_desc_t, size))                                                   \
    PROBE(sizeof(dnnl_rnn_packed_desc_t))                                                     \
    PROBE(offsetof(dnnl_rnn_packed_desc_t, parts))                                            \
    PROBE(offsetof(dnnl_rnn_packed_desc_t, part_pack_size))                                   \
    PROBE(offsetof(dnnl_rnn_packed_desc_t, pack_part))                                        \
    PROBE(offsetof(dnnl_rnn_packed_desc_t, offset_compensation))                              \
    PROBE(offsetof(dnnl_rnn_packed_desc_t, size))                                             \
    PROBE(offsetof(dnnl_rnn_packed_desc_t, reserved))                                         \
    PROBE(sizeof(dnnl_memory_extra_desc_t))                                                   \
    PROBE(offsetof(dnnl_memory_extra_desc_t, compensation_mask))                              \
    PROBE(offsetof(dnnl_memory_extra_desc_t, scale_adjust))                                   \
    PROBE(offsetof(dnnl_memory_extra_desc_t, asymm_compensation_mask))                        \
    PROBE(offsetof(dnnl_memory_extra_desc_t, reserved))                                       \
    PROBE(sizeof(dnnl_memory_desc_t))                                                         \
    PROBE(_Alignof(dnnl_memory_desc_t))                                                       \
    PROBE(offsetof(dnnl_memory_desc_t, ndims))                                                \
    PROBE(offsetof(dnnl_memory_desc_t, dims))                                                 \
    PROBE(offsetof(dnnl_memory_desc_t, data_type))                                            \
    PROBE(offsetof(dnnl_memory_desc_t, padded_dims))                                          \
    PROBE(offsetof(dnnl_memory_desc_t, padded_offsets))                                       \
    PROBE(offsetof(dnnl_memory_desc_t, offset0))                                              \
    PROBE(offsetof(dnnl_memory_desc_t, format_kind))                                          \
    PROBE(offsetof(dnnl_memory_desc_t, format_desc))                                          \
    PROBE(sizeof(((dnnl_memory_desc_t *)0)->format_desc))                                     \
    PROBE(offsetof(dnnl_memory_desc_t, extra))                                                \
    PROBE(sizeof(dnnl_convolution_desc_t))                                                    \
    PROBE(_Alignof(dnnl_convolution_desc_t))                                                  \
    PROBE(offsetof(dnnl_convolution_desc_t, primitive_kind))                                  \
    PROBE(offsetof(dnnl_convolution_desc_t, prop_kind))                                       \
    PROBE(offsetof(dnnl_convolution_desc_t, alg_kind))                                        \
    PROBE(offsetof(dnnl_convolution_desc_t, src_desc))                                        \
    PROBE(offsetof(dnnl_convolution_desc_t, diff_src_desc))                                   \
    PROBE(offsetof(dnnl_convolution_desc_t, weights_desc))                                    \
    PROBE(offsetof(dnnl_convolution_desc_t, diff_weights_desc))                               \
    PROBE(offsetof(dnnl_convolution_desc_t, bias_desc))                                       \
    PROBE(offsetof(dnnl_convolution_desc_t, diff_bias_desc))                                  \
    PROBE(offsetof(dnnl_convolution_desc_t, dst_desc))                                        \
    PROBE(offsetof(dnnl_convolution_desc_t, diff_dst_desc))                                   \
    PROBE(offsetof(dnnl_convolution_desc_t, strides))                                         \
    PROBE(offsetof(dnnl_convolution_desc_t, dilates))                                         \
    PROBE(offsetof(dnnl_convolution_desc_t, padding))                                         \
    PROBE(offsetof(dnnl_convolution_desc_t, accum_data_type))                                 \
    PROBE(sizeof(dnnl_exec_arg_t))                                                            \
    PROBE(offsetof(dnnl_exec_arg_t, arg))                                                     \
    PROBE(offsetof(dnnl_exec_arg_t, memory))                                                  \
    PROBE(sizeof(dnnl_version_t))                                                             \
    PROBE(offsetof(dnnl_version_t, major))                                                    \
    PROBE(offsetof(dnnl_version_t, minor))                                                    \
    PROBE(offsetof(dnnl_version_t, patch))                                                    \
    PROBE(offsetof(dnnl_version_t, hash))                                                     \
    PROBE(offsetof(dnnl_version_t, cpu_runtime))                                              \
    PROBE(offsetof(dnnl_version_t, gpu_runtime))
