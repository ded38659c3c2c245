#include "vmm/guests/abi.h"
	.code16
	.globl _start
_start:
	hlt
