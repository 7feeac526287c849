#include "pollen/models/state_dict.h"

#include <memory>

#include "pollen/models/model.h"

namespace pollen {

Result<ArrayRecord> load_state_dict(const std::string& path) {
  ModelOptions options;
  options.device = "cpu";
  POLLEN_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, Model::load(path, options));
  return model->state_dict();
}

}  // namespace pollen
