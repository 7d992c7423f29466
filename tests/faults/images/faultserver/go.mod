module faultserver

go 1.21
