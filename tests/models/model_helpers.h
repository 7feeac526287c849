// Loading test models and reading their state, shared by the models tests.
#ifndef POLLEN_TESTS_MODELS_MODEL_HELPERS_H_
#define POLLEN_TESTS_MODELS_MODEL_HELPERS_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "pollen/models/model.h"
#include "support/test_data.h"

namespace pollen::testing {

// $POLLEN_TEST_DATA/<name>.pt on `device`; null (after a test failure) when
// it does not load.
inline std::unique_ptr<Model> load(const std::string& name, const std::string& device = "cpu") {
  ModelOptions options;
  options.device = device;
  Result<std::unique_ptr<Model>> model = Model::load(data_path(name + ".pt"), options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(model).value() : nullptr;
}

// The model's state_dict; empty (after a test failure) when it cannot be read.
inline ArrayRecord state_of(const Model& model) {
  Result<ArrayRecord> record = model.state_dict();
  EXPECT_TRUE(record.ok()) << record.status();
  return record.ok() ? std::move(record).value() : ArrayRecord();
}

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_MODELS_MODEL_HELPERS_H_
