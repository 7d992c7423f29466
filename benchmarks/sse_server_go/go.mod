module chaos/benchmarks/sse_server_go

go 1.21
