"""The compiled modules: the load driver's per-read stream fast paths
(chaos/protocols/_scan.c) and its HTTP/1.1 response reader (chaos/load/_wire.c, on the
llhttp sources vendored in chaos/load/llhttp, the parser httptools wraps). Both optional:
without a C compiler the build goes on, the OpenAI fast path runs in Python
(chaos.protocols.profiles._openai_scan_py), custom streams are read event by event, and
responses are parsed by httptools."""

from setuptools import Extension, setup

_FLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
_LLHTTP = ["chaos/load/llhttp/api.c", "chaos/load/llhttp/http.c", "chaos/load/llhttp/llhttp.c"]

setup(ext_modules=[
    Extension("chaos.protocols._scan", ["chaos/protocols/_scan.c"], optional=True,
              extra_compile_args=_FLAGS),
    # llhttp's symbols stay inside the module (httptools carries its own copy).
    Extension("chaos.load._wire", ["chaos/load/_wire.c", *_LLHTTP], optional=True,
              include_dirs=["chaos/load"], depends=["chaos/load/llhttp/llhttp.h"],
              extra_compile_args=[*_FLAGS, "-fvisibility=hidden"]),
])
