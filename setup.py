"""The one compiled module: the load driver's OpenAI stream fast path
(chaos/protocols/_openai_scan.c). Optional: without a C compiler the build goes on and the
same function runs in Python (chaos.protocols.profiles._openai_scan_py)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "chaos.protocols._openai_scan", ["chaos/protocols/_openai_scan.c"],
    optional=True, extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
)])
