// Reading a TorchScript model's weights as the ArrayRecord Flower sends.
//
// A Flower ServerApp typically starts from ArrayRecord(model.state_dict()):
// one Array per state_dict entry, in state_dict order, each a .npy file.
// load_state_dict() builds the same record from the TorchScript export of
// that model, bit for bit, so both sides agree on names, order and ids.
//
// This header does not include LibTorch.
#ifndef POLLEN_MODELS_STATE_DICT_H_
#define POLLEN_MODELS_STATE_DICT_H_

#include <string>

#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

// Loads the TorchScript file `path` on the CPU and returns its state_dict
// as Flower Arrays (stype "numpy.ndarray", data a .npy file, dtype and shape
// from the tensor).
//
// Order and names follow PyTorch's Module.state_dict(): for each module its
// own parameters, then its own buffers, then its children in registration
// order, names joined with '.'; None parameters and buffers are skipped.
// TorchScript does not record whether a buffer is persistent, so buffers
// registered with persistent=False are included here (as in
// torch.jit.load(path).state_dict()) although the eager model's
// state_dict() leaves them out.
//
// Supported dtypes: float16/32/64, int8/16/32/64, uint8 and bool. Errors
// (never exceptions): NOT_FOUND for a missing file; INVALID_ARGUMENT for a
// file that is not TorchScript, a model without trainable parameters (requires_grad), or a sparse
// tensor; UNIMPLEMENTED for other dtypes (bfloat16 included: .npy has no
// such type). Messages name the file and, where one is at fault, the tensor.
Result<ArrayRecord> load_state_dict(const std::string& path);

}  // namespace pollen

#endif  // POLLEN_MODELS_STATE_DICT_H_
