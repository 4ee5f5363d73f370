// nidim/nn/safetensors.h: reading and writing the safetensors format, the weight files that
// PyTorch, JAX and Hugging Face tools exchange.
//
// Layout (https://github.com/huggingface/safetensors): 8 bytes little-endian header length n,
// n bytes of JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "value"}}, padded with spaces to a multiple of 8, then the tensors'
// bytes, little-endian and C order, offsets relative to the end of the header. The writer puts
// the tensors in order of element size, largest first, so each starts aligned to its element
// size; the reader returns them in the file's order.
// dtypes: F32, F64, I32, I64, U8 (others are refused with their name); at most 4 dimensions.
// Files are written atomically (core/io.h). Every inconsistency (truncated file, header larger
// than the file, offsets outside the data, overlapping tensors, size not matching the shape)
// is an error naming the file and the tensor.
#pragma once

#include <map>
#include <string>

#include "nn/module.h"

namespace nidim {

using Metadata = std::map<std::string, std::string>;

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const Metadata& metadata = {});
// Tensors in file order (by offset); metadata into *metadata when given.
NamedTensors load_safetensors(const std::string& path, Metadata* metadata = nullptr);

// A module's state_dict (parameters and buffers) to and from a file.
void save_module(const std::string& path, const Module& module, const Metadata& metadata = {});
void load_module(const std::string& path, Module& module, bool strict = true);

}  // namespace nidim
