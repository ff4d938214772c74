module nvmeof-operator/images/pause

go 1.22
