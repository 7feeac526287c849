// Client: what a Pollen user implements to answer a Flower server.
#ifndef POLLEN_CORE_CLIENT_H_
#define POLLEN_CORE_CLIENT_H_

#include "pollen/core/message.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

// Handles one instruction and returns the reply's content. A non-OK Result
// becomes an Error reply (code 2, CLIENT_APP_RAISED_EXCEPTION, with the
// status message as reason) and the node keeps running. Called from the node
// loop's thread only.
class Client {
 public:
  virtual ~Client() = default;
  virtual Result<RecordDict> handle(const Message& instruction) = 0;
};

// A Client that dispatches on the message type's category ("train",
// "evaluate", "query"; "train.custom" goes to train()). Unimplemented
// categories and unknown types answer with an error reply.
class DispatchingClient : public Client {
 public:
  Result<RecordDict> handle(const Message& instruction) override;

 protected:
  virtual Result<RecordDict> train(const Message& instruction);
  virtual Result<RecordDict> evaluate(const Message& instruction);
  virtual Result<RecordDict> query(const Message& instruction);
};

}  // namespace pollen

#endif  // POLLEN_CORE_CLIENT_H_
