# Generates C++ for our API and for the standard protos that reflection must
# serve (google/rpc from golang-github-gogo-googleapis-dev, grpc/health from
# grpc-proto). Nothing generated is committed.
set(ECSIMAGE_GOOGLEAPIS_DIR /usr/share/gocode/src/github.com/gogo/googleapis
    CACHE PATH "Root holding google/rpc/*.proto")
set(ECSIMAGE_GRPC_PROTO_DIR /usr/share/grpc-proto
    CACHE PATH "Root holding grpc/health/v1/health.proto")
foreach(f ${ECSIMAGE_GOOGLEAPIS_DIR}/google/rpc/error_details.proto
          ${ECSIMAGE_GOOGLEAPIS_DIR}/google/rpc/status.proto
          ${ECSIMAGE_GRPC_PROTO_DIR}/grpc/health/v1/health.proto)
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "${f} missing: apt-get install golang-github-gogo-googleapis-dev grpc-proto")
  endif()
endforeach()

find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
set(ECSIMAGE_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${ECSIMAGE_GEN_DIR})

# ecsimage_protoc(<out_var> <include_root> <relative.proto> <with_grpc>)
function(ecsimage_protoc out_var root rel with_grpc)
  get_filename_component(dir ${rel} DIRECTORY)
  get_filename_component(name ${rel} NAME_WE)
  set(outs ${ECSIMAGE_GEN_DIR}/${dir}/${name}.pb.cc ${ECSIMAGE_GEN_DIR}/${dir}/${name}.pb.h)
  set(args --cpp_out=${ECSIMAGE_GEN_DIR})
  if(with_grpc)
    list(APPEND outs ${ECSIMAGE_GEN_DIR}/${dir}/${name}.grpc.pb.cc ${ECSIMAGE_GEN_DIR}/${dir}/${name}.grpc.pb.h)
    list(APPEND args --grpc_out=${ECSIMAGE_GEN_DIR} --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN})
  endif()
  add_custom_command(
    OUTPUT ${outs}
    COMMAND protobuf::protoc ${args} -I${root} -I${Protobuf_INCLUDE_DIRS}
            -I${ECSIMAGE_GOOGLEAPIS_DIR} ${root}/${rel}
    DEPENDS ${root}/${rel} protobuf::protoc
    COMMENT "protoc ${rel}")
  set(${out_var} ${outs} PARENT_SCOPE)
endfunction()

ecsimage_protoc(API_SRCS ${CMAKE_SOURCE_DIR}/proto ecs/image/v1/image_service.proto TRUE)
ecsimage_protoc(INTERNAL_SRCS ${CMAKE_SOURCE_DIR}/proto ecsimage/internal/error_payload.proto FALSE)
ecsimage_protoc(RPC_DETAILS_SRCS ${ECSIMAGE_GOOGLEAPIS_DIR} google/rpc/error_details.proto FALSE)
ecsimage_protoc(RPC_STATUS_SRCS ${ECSIMAGE_GOOGLEAPIS_DIR} google/rpc/status.proto FALSE)
ecsimage_protoc(HEALTH_SRCS ${ECSIMAGE_GRPC_PROTO_DIR} grpc/health/v1/health.proto TRUE)

add_library(ecsimage_proto STATIC ${API_SRCS} ${INTERNAL_SRCS} ${RPC_DETAILS_SRCS} ${RPC_STATUS_SRCS} ${HEALTH_SRCS})
target_include_directories(ecsimage_proto PUBLIC ${ECSIMAGE_GEN_DIR})
target_link_libraries(ecsimage_proto PUBLIC protobuf::libprotobuf gRPC::grpc++)
target_compile_options(ecsimage_proto PRIVATE -w)
