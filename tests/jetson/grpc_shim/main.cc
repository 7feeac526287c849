// Links gRPC++ and makes a channel without connecting anywhere.
#include <grpcpp/grpcpp.h>

#include <iostream>

int main() {
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel("127.0.0.1:9", grpc::InsecureChannelCredentials());
  if (!channel) return 1;
  std::cout << "grpc shim: ok, gRPC " << grpc::Version() << "\n";
  return 0;
}
