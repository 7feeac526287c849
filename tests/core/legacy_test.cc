// The legacy record layout (flwr.server strategies): recognising legacy
// instructions and writing replies a NumPyClient would send.
#include "pollen/core/legacy.h"

#include <gtest/gtest.h>

namespace pollen {
namespace {

Array floats(std::vector<float> v) {
  return *Array::from_elements(DType::kFloat32, {static_cast<int64_t>(v.size())}, v.data(),
                               v.size() * sizeof(float));
}

Message with(const std::string& type, RecordDict content) {
  Message m;
  m.metadata.message_type = type;
  m.content = std::move(content);
  return m;
}

TEST(LegacyTest, RecognisesEachKindByTypeAndRecordNames) {
  RecordDict fit;
  fit.set("fitins.parameters", ArrayRecord{});
  fit.set("fitins.config", ConfigRecord{});
  RecordDict evaluate;
  evaluate.set("evaluateins.parameters", ArrayRecord{});
  RecordDict modern;
  modern.set("arrays", ArrayRecord{});
  EXPECT_EQ(legacy_kind(with("train", fit)), LegacyKind::kFit);
  EXPECT_EQ(legacy_kind(with("evaluate", evaluate)), LegacyKind::kEvaluate);
  EXPECT_EQ(legacy_kind(with("get_parameters", {})), LegacyKind::kGetParameters);
  EXPECT_EQ(legacy_kind(with("get_properties", {})), LegacyKind::kGetProperties);
  EXPECT_EQ(legacy_kind(with("train", modern)), LegacyKind::kNone);
  EXPECT_EQ(legacy_kind(with("evaluate", fit)), LegacyKind::kNone);  // records of another kind
}

TEST(LegacyTest, InstructionPartsAndAMissingParametersRecord) {
  ConfigRecord config;
  config.set("lr", 0.1);
  RecordDict fit;
  fit.set("fitins.parameters", ArrayRecord{});
  fit.set("fitins.config", config);
  const Message m = with("train", fit);
  Result<LegacyIns> ins = legacy_ins(m, LegacyKind::kFit);
  ASSERT_TRUE(ins.ok()) << ins.status();
  EXPECT_EQ(*ins->config, config);
  Result<LegacyIns> wrong = legacy_ins(m, LegacyKind::kEvaluate);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("evaluateins.parameters"), std::string::npos);
  EXPECT_TRUE(legacy_config(with("get_parameters", {}), LegacyKind::kGetParameters).empty());
}

TEST(LegacyTest, ParametersArePositionalAndNoneIsEmpty) {
  ArrayRecord named;
  named.set("fc.weight", floats({1, 2}));
  named.set("fc.bias", floats({3}));
  ArrayRecord out = positional_arrays(named);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out.items()[0].first, "0");
  EXPECT_EQ(out.items()[1].first, "1");
  EXPECT_EQ(out.items()[0].second, *named.find("fc.weight"));
  ArrayRecord none = positional_arrays(ArrayRecord{});
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none.items()[0].first, "_empty");
  EXPECT_TRUE(none.items()[0].second.data.empty());
}

TEST(LegacyTest, RepliesHaveTheNumPyClientLayout) {
  MetricRecord metrics;
  metrics.set("train_loss", 0.5);
  metrics.set("steps", int64_t{3});
  metrics.set("per-epoch", std::vector<double>{1, 2});  // no list in a legacy metrics dict
  const ConfigRecord legacy = legacy_metrics(metrics);
  EXPECT_EQ(legacy.size(), 2u);
  EXPECT_FALSE(legacy.contains("per-epoch"));

  RecordDict fit = legacy_fit_res(positional_arrays({}), 42, legacy);
  std::vector<std::string> names;
  for (const auto& [name, _] : fit) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"fitres.parameters", "fitres.num_examples",
                                             "fitres.metrics", "fitres.status"}));
  const MetricRecord* n = find_metric_record(fit, "fitres.num_examples");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(std::get<int64_t>(*n->find("num_examples")), 42);
  const ConfigRecord* status = find_config_record(fit, "fitres.status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(std::get<int64_t>(*status->find("code")), 0);
  EXPECT_EQ(std::get<std::string>(*status->find("message")), "Success");

  RecordDict evaluate = legacy_evaluate_res(0.25, 7, {});
  const MetricRecord* loss = find_metric_record(evaluate, "evaluateres.loss");
  ASSERT_NE(loss, nullptr);
  EXPECT_EQ(std::get<double>(*loss->find("loss")), 0.25);
  EXPECT_NE(find_config_record(evaluate, "evaluateres.metrics"), nullptr);
  EXPECT_NE(find_config_record(evaluate, "evaluateres.status"), nullptr);

  EXPECT_NE(find_array_record(legacy_get_parameters_res({}), "getparametersres.parameters"),
            nullptr);
  EXPECT_NE(find_config_record(legacy_get_properties_res({}), "getpropertiesres.properties"),
            nullptr);
}

}  // namespace
}  // namespace pollen
