#include "pollen/core/client.h"

namespace pollen {

Result<RecordDict> DispatchingClient::handle(const Message& instruction) {
  const std::string& type = instruction.metadata.message_type;
  POLLEN_RETURN_IF_ERROR(validate_message_type(type));
  if (!instruction.content) {
    return invalid_argument("instruction '" + type + "' carries no content");
  }
  const std::string_view category = split_message_type(type).first;
  if (category == "train") return train(instruction);
  if (category == "evaluate") return evaluate(instruction);
  if (category == "query") return query(instruction);
  return unimplemented("message type '" + type + "' is not handled by this client");
}

Result<RecordDict> DispatchingClient::train(const Message& m) {
  return unimplemented("this client does not train ('" + m.metadata.message_type + "')");
}
Result<RecordDict> DispatchingClient::evaluate(const Message& m) {
  return unimplemented("this client does not evaluate ('" + m.metadata.message_type + "')");
}
Result<RecordDict> DispatchingClient::query(const Message& m) {
  return unimplemented("this client does not answer queries ('" + m.metadata.message_type + "')");
}

}  // namespace pollen
