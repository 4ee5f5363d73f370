// nidim/kernels/pairwise.h: the method's joint critic on every pair of a batch (METHOD.md §1-§2).
//
// With the critic's first layer split (W [a; b] + c = W_a a + W_b b + c), its hidden input for
// pair (i, j) is u_i + v_j with u = a W_a^T + c and v = b W_b^T, computed once per row; these
// ops take u and v and run the rest of the MLP on all pairs, tile by tile, without storing the
// [B, B, H] activations (kernels/cpu/pairwise.cpp explains the tiling).
//   S[i, j] = w3 . lrelu(W2 lrelu(u_i + v_j) + b2) + b3
// Shapes: u [Bu, H], v [Bv, H], W2 [H, H], b2 [H], w3 [1, H], b3 [1] (PyTorch's Linear layouts).
#pragma once

#include "core/tensor.h"

namespace nidim {

// The score matrix S [Bu, Bv]; its backward pass recomputes each tile (any bound can use S).
Tensor pairwise_mlp_scores(const Tensor& u, const Tensor& v, const Tensor& W2, const Tensor& b2,
                           const Tensor& w3, const Tensor& b3, double slope = 0.01,
                           int64_t tile_rows = 0);

// The InfoNCE loss -I_NCE = mean_i (logsumexp_j S_ij - S_ii) - log B for square S, fused with its
// gradient: one tiled pass computes the scores, the row log-sum-exps and every gradient (for
// dloss = 1; backward() only scales them). Gradients are computed only when grad mode is on and
// some input requires one.
Tensor pairwise_mlp_infonce(const Tensor& u, const Tensor& v, const Tensor& W2, const Tensor& b2,
                            const Tensor& w3, const Tensor& b3, double slope = 0.01,
                            int64_t tile_rows = 0);

}  // namespace nidim
