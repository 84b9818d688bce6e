module pulumi-multiarch/tools/caps-runc

go 1.22
