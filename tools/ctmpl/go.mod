module mesos-formula/tools/ctmpl

go 1.19
