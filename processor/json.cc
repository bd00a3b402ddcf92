#include "processor/json.h"

#include "google/protobuf/util/json_util.h"

namespace exportwatch {

std::string ToJson(const google::protobuf::Message& msg) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  std::string out;
  // Printing a valid message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(msg, &out, opts);
  return out;
}

}  // namespace exportwatch
