module flarego.bench/busy

go 1.19
