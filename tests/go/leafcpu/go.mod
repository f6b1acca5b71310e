module leafcpu

go 1.19
