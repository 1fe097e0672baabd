#ifndef SNN_NEURONS_H
#define SNN_NEURONS_H

#ifdef __cplusplus
extern "C" {
#endif

/// The fused multi-step IF / LIF / PLIF kernels on a time-major [T, N] sequence, in C so that each
/// has an AVX2 and an AVX-512 variant chosen at run time (Swift compiles for the baseline ISA).
/// Their arithmetic is the Swift reference's, operation for operation and without contraction into
/// FMA, so spikes and gradients equal it bit for bit.
///
/// The backward pass reads the input x again and recomputes the membrane in a cache-sized tile
/// instead of reading a saved one: 20 bytes of traffic per neuron-step for forward + backward
/// (x, spikes, ∂L/∂S, x again, ∂L/∂X) instead of 24, and no [T, N] buffer kept between the passes.

/// How the membrane charges (h from v and x; k = 1/τ, v_r = the resting potential).
enum snn_charge { SNN_CHARGE_INTEGRATE = 0, SNN_CHARGE_DECAYED_INPUT = 1, SNN_CHARGE_UNDECAYED_INPUT = 2 };
/// What a spike does to the membrane.
enum snn_reset { SNN_RESET_HARD = 0, SNN_RESET_SOFT = 1, SNN_RESET_NONE = 2 };
/// The surrogate derivatives (SNNNeurons/Surrogate.swift).
enum snn_surrogate {
    SNN_SURROGATE_QGATE = 0,
    SNN_SURROGATE_ARCTANGENT = 1,
    SNN_SURROGATE_SIGMOID = 2,
    SNN_SURROGATE_RECTANGULAR = 3,
    SNN_SURROGATE_PIECEWISE_LINEAR = 4,
    SNN_SURROGATE_SUPERSPIKE = 5,
    SNN_SURROGATE_ERF = 6,
};
/// The instruction sets the kernels are compiled for.
enum snn_isa { SNN_ISA_BASELINE = 0, SNN_ISA_AVX2 = 1, SNN_ISA_AVX512 = 2 };

typedef struct snn_neuron_params {
    int charge;  // enum snn_charge
    int reset;  // enum snn_reset
    int detach_reset;  // 1: the reset's own path carries no gradient
    float decay;  // k = 1/τ (unused by IF)
    float threshold;
    float resting;  // the hard-reset value, else 0: the initial membrane and the leak target
    int surrogate;  // enum snn_surrogate
    float alpha;
    // Masked surrogate gradients (MSG): element e is masked when the hash of (e, k1, k2) is below
    // mask_threshold (SNNNeurons MaskStream); masked elements take the substitute's derivative, or 0.
    int masked;  // 0: no mask
    unsigned mask_k1, mask_k2, mask_threshold;
    int substitute;  // enum snn_surrogate, or -1 for zero
    float substitute_alpha;
} snn_neuron_params;

/// The most capable variant this CPU runs (the SNN_NEURON_ISA environment variable — baseline, avx2,
/// avx512 — may lower it, for comparisons).
int snn_neuron_best_isa(void);
/// Whether this CPU (and OS) runs the `isa` variant.
int snn_neuron_isa_supported(int isa);

/// Forward over neurons [begin, end) of the [steps, n] input: spikes (0/1), and the post-reset
/// membrane when `membrane` is not NULL. Returns the number of spikes. `isa` must be supported.
long snn_neuron_forward(int isa, const snn_neuron_params *p, const float *x, long steps, long n, long begin,
                        long end, float *spikes, float *membrane);

/// BPTT over neurons [begin, end): ∂L/∂X from x, ∂L/∂S and (when not NULL) ∂L/∂V of the post-reset
/// membrane. Returns Σ ∂L/∂H·∂H/∂k when `want_decay` (PLIF's learned decay), else 0.
double snn_neuron_backward(int isa, const snn_neuron_params *p, const float *x, const float *grad_spikes,
                           const float *grad_membrane, long steps, long n, long begin, long end,
                           float *grad_input, int want_decay);

/// STREAM's triad a[i] = b[i] + s·c[i] over [begin, end) (the memory benchmark's kernel).
void snn_triad(int isa, float *a, const float *b, const float *c, float s, long begin, long end);

#ifdef __cplusplus
}
#endif

#endif
