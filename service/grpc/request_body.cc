#include "service/grpc/request_body.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include "service/domain/errors.h"

namespace ecsimage::grpcapi {

absl::Status ParseBody(const grpc::ByteBuffer& body,
                       google::protobuf::Message* message) {
  message->Clear();
  // The reader only reads the buffer's slices; it takes a pointer because
  // grpc_byte_buffer_reader_init does.
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(&body));
  // The same parse as gRPC's own (GenericDeserialize): it refuses truncated
  // messages, wire types 6 and 7, unmatched group ends and, for proto3
  // `string` fields, bytes that are not UTF-8 (tests/grpc/
  // contract_malformed_body_test.cc holds that for every method). A known
  // field number with another valid wire type is an unknown field, as
  // protobuf defines it, and the request is read without that field.
  if (!reader.status().ok() || !message->ParseFromZeroCopyStream(&reader)) {
    return domain::Error(domain::Err::kInvalidParameter).Param(kBodyParameter);
  }
  return absl::OkStatus();
}

absl::Status SerializeBody(const google::protobuf::Message& message,
                           grpc::ByteBuffer* out) {
  bool own_buffer = false;
  grpc::Status status =
      grpc::SerializationTraits<google::protobuf::Message>::Serialize(
          message, out, &own_buffer);
  if (!status.ok()) {
    return absl::InternalError("cannot serialize the response " +
                               message.GetTypeName());
  }
  return absl::OkStatus();
}

}  // namespace ecsimage::grpcapi
