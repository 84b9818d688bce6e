#!/bin/sh
machine=$(uname -m) || exit 1
echo "greetings from $machine"
