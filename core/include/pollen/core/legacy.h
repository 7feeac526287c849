// Flower's legacy record layout: what a ServerApp built on the legacy
// strategies (flwr.server.strategy with ServerApp(server_fn=...), or
// DefaultWorkflow) sends and expects back, as a NumPyClient answers it.
//
//   instruction                          reply
//   get_parameters  getparametersins.config   getparametersres.parameters, .status
//   get_properties  getpropertiesins.config   getpropertiesres.properties, .status
//   train           fitins.parameters, .config     fitres.parameters, .num_examples,
//                                                  .metrics, .status
//   evaluate        evaluateins.parameters, .config  evaluateres.loss, .num_examples,
//                                                  .metrics, .status
//
// Parameters are positional ("0".."n-1", .npy data; "_empty" for none),
// metrics and properties are scalars in a ConfigRecord, num_examples and the
// loss sit in MetricRecords, and status is {"code": 0, "message": "Success"}.
#ifndef POLLEN_CORE_LEGACY_H_
#define POLLEN_CORE_LEGACY_H_

#include <cstdint>

#include "pollen/core/message.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

enum class LegacyKind { kNone, kGetParameters, kGetProperties, kFit, kEvaluate };

// The legacy instruction `m` is, by its message type and record names;
// kNone for a Message-API instruction.
LegacyKind legacy_kind(const Message& m);

// The parameters and config of a legacy fit or evaluate instruction.
struct LegacyIns {
  const ArrayRecord* parameters = nullptr;
  const ConfigRecord* config = nullptr;
};
Result<LegacyIns> legacy_ins(const Message& m, LegacyKind kind);

// The config of any legacy instruction ("<ins>.config"); an empty record
// when it has none.
const ConfigRecord& legacy_config(const Message& m, LegacyKind kind);

// `arrays` keyed "0".."n-1" in their order ("_empty" with no data when
// there are none), as Flower's legacy conversion writes Parameters.
ArrayRecord positional_arrays(const ArrayRecord& arrays);

// Metrics as the legacy ConfigRecord: scalars only (lists are dropped, as
// Flower's conversion cannot carry them).
ConfigRecord legacy_metrics(const MetricRecord& metrics);

RecordDict legacy_fit_res(ArrayRecord parameters, int64_t num_examples, ConfigRecord metrics);
RecordDict legacy_evaluate_res(double loss, int64_t num_examples, ConfigRecord metrics);
RecordDict legacy_get_parameters_res(ArrayRecord parameters);
RecordDict legacy_get_properties_res(ConfigRecord properties);

}  // namespace pollen

#endif  // POLLEN_CORE_LEGACY_H_
