"""The one compiled module: the load driver's per-read stream fast paths
(chaos/protocols/_scan.c). Optional: without a C compiler the build goes on, the OpenAI one
runs in Python (chaos.protocols.profiles._openai_scan_py) and custom streams are read event
by event."""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "chaos.protocols._scan", ["chaos/protocols/_scan.c"],
    optional=True, extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
)])
