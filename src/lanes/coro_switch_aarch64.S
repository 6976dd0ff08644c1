/*
 * coro_switch_aarch64.S — the AArch64 (AAPCS64) context switch used by coro.c.
 *
 * Saves what a callee must preserve: x19-x28, the frame pointer x29, the link
 * register x30, sp, the low halves d8-d15 of v8-v15, and FPCR (rounding mode
 * is per context). This file must never grow logic: bookkeeping lives in
 * coro.c. Assembled on every architecture (CMake globs every .S under src); empty off
 * AArch64.
 */
#if defined(__aarch64__)

	.text

/*
 * void lanes_coro__switch(void **save_sp, void *load_sp)
 * Frame layout (176 bytes, keeps sp 16-byte aligned):
 *   0 x19 x20 | 16 x21 x22 | 32 x23 x24 | 48 x25 x26 | 64 x27 x28
 *  80 x29 x30 | 96 d8 d9 | 112 d10 d11 | 128 d12 d13 | 144 d14 d15 | 160 fpcr
 * coro.c builds the same layout for a fresh coroutine; keep them in step.
 */
	.globl	lanes_coro__switch
	.hidden	lanes_coro__switch
	.type	lanes_coro__switch, %function
	.p2align 4
lanes_coro__switch:
	.cfi_startproc
	sub	sp, sp, #176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x2, fpcr
	str	x2, [sp, #160]
	mov	x2, sp
	str	x2, [x0]
	mov	sp, x1
	ldr	x2, [sp, #160]
	msr	fpcr, x2
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #176
	ret
	.cfi_endproc
	.size	lanes_coro__switch, .-lanes_coro__switch

/*
 * First "return" of a fresh coroutine lands here (x30 in its initial frame).
 * x19 holds the entry function and x20 its argument; the entry never returns,
 * brk makes sure a bug there traps instead of running into garbage.
 */
	.globl	lanes_coro__boot
	.hidden	lanes_coro__boot
	.type	lanes_coro__boot, %function
	.p2align 4
lanes_coro__boot:
	.cfi_startproc
	.cfi_undefined x30
	mov	x29, #0
	mov	x0, x20
	blr	x19
	brk	#0x1
	.cfi_endproc
	.size	lanes_coro__boot, .-lanes_coro__boot

#endif

#if defined(__ELF__)
	.section .note.GNU-stack,"",%progbits
#endif
