# qv_proto.cmake -- protoc-c code generation at build time.
#
# qv_protoc_c(<out-srcs-var> <proto-root> <files...>)
#   Generates C for each .proto (paths relative to <proto-root>) with one
#   --proto_path=<proto-root>.  Output keeps the layout below
#   ${CMAKE_CURRENT_BINARY_DIR}/pb, so "milvus/common.proto" gives
#   pb/milvus/common.pb-c.{c,h} and C code includes "milvus/common.pb-c.h".
#   Sets <out-srcs-var> (the .c files) and <out-srcs-var>_INCLUDE_DIR (the
#   include root) in the caller's scope.  Every file of the set depends on
#   every other, so touching an imported .proto regenerates its importers.
#
# qv_proto_library(<target> <proto-root> <files...>)
#   The above plus a static library <target> exporting the include root and
#   linking libprotobuf-c.  Generated code builds without -Werror (it is not
#   ours) and without the two warnings protoc-c output is known to raise.
#
# Generated code is never committed (.gitignore has *.pb-c.[ch]).
include_guard(GLOBAL)
if(NOT TARGET PkgConfig::PROTOBUFC)
  pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET GLOBAL libprotobuf-c)
endif()
find_program(QV_PROTOC_C protoc-c REQUIRED)
# gRPC core (C, not C++) for the RPC layer and generated service code:
# PkgConfig::GRPC, visible in every directory.
if(NOT TARGET PkgConfig::GRPC)
  pkg_check_modules(GRPC REQUIRED IMPORTED_TARGET GLOBAL grpc gpr)
endif()

function(qv_protoc_c out_var root)
  get_filename_component(root_abs ${root} ABSOLUTE)
  set(out_root ${CMAKE_CURRENT_BINARY_DIR}/pb)
  file(MAKE_DIRECTORY ${out_root})
  set(all_protos)
  foreach(f ${ARGN})
    list(APPEND all_protos ${root_abs}/${f})
  endforeach()
  set(srcs)
  foreach(f ${ARGN})
    string(REGEX REPLACE "\\.proto$" "" stem ${f})
    set(c ${out_root}/${stem}.pb-c.c)
    set(h ${out_root}/${stem}.pb-c.h)
    add_custom_command(OUTPUT ${c} ${h}
      COMMAND ${QV_PROTOC_C} --proto_path=${root_abs} --c_out=${out_root}
              ${root_abs}/${f}
      DEPENDS ${all_protos} ${QV_PROTOC_C}
      COMMENT "protoc-c ${f}" VERBATIM)
    list(APPEND srcs ${c})
  endforeach()
  set(${out_var} ${srcs} PARENT_SCOPE)
  set(${out_var}_INCLUDE_DIR ${out_root} PARENT_SCOPE)
endfunction()

function(qv_proto_library target root)
  qv_protoc_c(gen_srcs ${root} ${ARGN})
  add_library(${target} STATIC ${gen_srcs})
  target_include_directories(${target} PUBLIC ${gen_srcs_INCLUDE_DIR})
  target_link_libraries(${target} PUBLIC PkgConfig::PROTOBUFC)
  target_compile_options(${target} PRIVATE -w)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
