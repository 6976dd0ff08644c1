/*
 * coro_switch_x86_64.S — the x86-64 (System V) context switch used by coro.c.
 *
 * It saves only what the ABI says a callee must preserve: rbx, rbp, r12-r15,
 * the stack pointer, and the x87 control word and MXCSR (rounding mode and
 * exception masks are per context). Everything else is caller-saved, so the C
 * compiler has already spilled it around the call. This file must never grow
 * logic: bookkeeping (current coroutine, ASan annotations) lives in coro.c.
 * Assembled on every architecture (CMake globs every .S under src); empty off x86-64.
 */
#if defined(__x86_64__)

	.text

/*
 * void lanes_coro__switch(void **save_sp, void *load_sp)
 * Pushes the callee-saved state on the current stack, stores the stack pointer
 * in *save_sp, then pops the state found at load_sp and returns there.
 */
	.globl	lanes_coro__switch
	.hidden	lanes_coro__switch
	.type	lanes_coro__switch, @function
	.p2align 4
lanes_coro__switch:
	.cfi_startproc
	/* The CFI follows every move of rsp, so a signal that lands anywhere in
	 * here (the watchdog's backtrace signal) unwinds correctly: both stacks
	 * hold the same 64-byte frame, so "CFA = rsp + 64" stays true across the
	 * stack switch. Without it the unwinder took a saved register for the
	 * return address and crashed reading code at that address. */
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	.cfi_adjust_cfa_offset -8
	popq	%r15
	.cfi_adjust_cfa_offset -8
	popq	%r14
	.cfi_adjust_cfa_offset -8
	popq	%r13
	.cfi_adjust_cfa_offset -8
	popq	%r12
	.cfi_adjust_cfa_offset -8
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	lanes_coro__switch, .-lanes_coro__switch

/*
 * First "return" of a fresh coroutine lands here (coro.c puts this address
 * where lanes_coro__switch expects its return address). r12 holds the entry
 * function and r13 its argument; the entry never returns, ud2 makes sure a
 * bug there crashes loudly instead of running off into garbage.
 */
	.globl	lanes_coro__boot
	.hidden	lanes_coro__boot
	.type	lanes_coro__boot, @function
	.p2align 4
lanes_coro__boot:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	movq	%r13, %rdi
	callq	*%r12
	ud2
	.cfi_endproc
	.size	lanes_coro__boot, .-lanes_coro__boot

#endif

#if defined(__ELF__)
	.section .note.GNU-stack,"",%progbits
#endif
