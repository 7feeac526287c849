// NumPy's .npz files: a ZIP archive of .npy files, one per array, named
// "<key>.npy". This is how a model's arrays travel between Pollen and Python
// (np.savez / np.load) outside of Flower messages.
#ifndef POLLEN_CORE_NPZ_H_
#define POLLEN_CORE_NPZ_H_

#include <sys/types.h>

#include <string>

#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

// Reads a file written by np.savez (stored) or np.savez_compressed
// (deflate), including the zip64 extra fields numpy always writes. Each
// member "NAME.npy" becomes the array NAME, in the order of the archive's
// central directory; Array::data holds the member's exact .npy bytes, which
// must decode as .npy. Stored members share one buffer with the whole file.
// NOT_FOUND for a missing file; INVALID_ARGUMENT naming the file (and the
// member) for anything else: not a ZIP, truncated, a CRC mismatch, a member
// not ending in ".npy", a repeated name, an invalid .npy, an encrypted
// member or a compression other than stored/deflate. Every size and offset
// is checked against the file before anything is allocated.
Result<ArrayRecord> read_npz(const std::string& path);

// Writes `arrays` as an uncompressed .npz that np.load reads, members
// "KEY.npy" in record order, with permissions `mode`. Crash-safe
// (replace_file_durably): the archive goes to PATH.tmp-<pid>, is synced,
// renamed over `path` and the directory synced, so readers never see half a
// file and a power loss leaves the old one or the new one.
// INVALID_ARGUMENT, before anything is written, for a key containing '/' or
// NUL, an array whose data is not a valid .npy, and an archive that would
// need zip64 (a member or the whole file of 4 GiB or more, 65535 members).
Status write_npz(const std::string& path, const ArrayRecord& arrays, mode_t mode = 0644);

}  // namespace pollen

#endif  // POLLEN_CORE_NPZ_H_
