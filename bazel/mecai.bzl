"""Build macros shared by every package of the MECAI cluster."""

def mecai_proto_library(name, srcs, deps = [], grpc = True, visibility = None):
    """Turns .proto files into a C++ library with protoc and, when grpc is set, grpc_cpp_plugin.

    Args:
      name: the cc_library's name.
      srcs: .proto files of this package. Imports are resolved from the workspace root.
      deps: other mecai_proto_library targets whose .proto files these import.
      grpc: whether to generate gRPC service stubs too.
      visibility: the cc_library's visibility.
    """
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    package = native.package_name()
    grpc_flags = "--grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=$$(command -v grpc_cpp_plugin)" if grpc else ""

    native.filegroup(
        name = name + "_protos",
        srcs = srcs + [d + "_protos" for d in deps],
        visibility = visibility,
    )
    native.genrule(
        name = name + "_codegen",
        srcs = [name + "_protos"],
        outs = outs,
        cmd = " ".join([
            "protoc",
            "--proto_path=.",
            "--cpp_out=$(GENDIR)",
            grpc_flags,
        ] + ["%s/%s" % (package, s) for s in srcs]),
        message = "protoc %s" % name,
    )
    messages = [o for o in outs if not o.endswith((".grpc.pb.h", ".grpc.pb.cc"))]
    services = [o for o in outs if o.endswith((".grpc.pb.h", ".grpc.pb.cc"))]

    # The messages alone, for code that parses and builds them but speaks no gRPC (the TLS client
    # library, the stapling library, fuzz targets): protobuf only.
    native.cc_library(
        name = name + "_messages",
        srcs = [o for o in messages if o.endswith(".cc")],
        hdrs = [o for o in messages if o.endswith(".h")],
        deps = [d + "_messages" for d in deps] + ["@system_libraries//:protobuf"],
        visibility = visibility,
    )

    # The messages and, when grpc is set, the generated gRPC service classes.
    native.cc_library(
        name = name,
        srcs = [o for o in services if o.endswith(".cc")],
        hdrs = [o for o in services if o.endswith(".h")],
        deps = [name + "_messages"] + deps + (["@system_libraries//:grpc"] if grpc else []),
        visibility = visibility,
    )
