#!/bin/sh
echo "greetings from $(uname -m)"
