// nidim/core/fpenv.h: the floating-point environment of the calling thread.
//
// Denormal (subnormal) floats take a slow path on x86 (microcode assists, about 100x slower per
// operation); training can produce them, e.g. the uniform prior's Phi(BN(h)) has gradients
// exp(-h^2/2) that underflow into that range. Flush-to-zero (results) and denormals-are-zero
// (inputs) in MXCSR avoid it, at no cost to training. Threads inherit the setting from the thread
// that creates them, so a program sets it once, first thing in main(), before nidim's thread pool
// and BLAS start their threads. train_dim does (--keep-denormals turns it off); the library
// never changes it on its own, since statistics code may need tiny tail probabilities.
#pragma once

namespace nidim {

// Returns the previous setting. A no-op (returning false) off x86.
bool set_flush_denormals(bool on);
bool flush_denormals();

}  // namespace nidim
