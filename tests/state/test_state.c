/* vmm_state save/restore: a guest stopped at a snapshot resumes identically
 * in a second VM, and every piece of state survives get, set and transfer. */
#include "state_util.h"

#define MSR_TSC	    0x10u
#define MSR_TSC_AUX 0xc0000103u
#define LAPIC_SPIV  0xf0u
#define LAPIC_TPR   0x80u
#define LAPIC_LINT0 0x350u
#define ALL_PIECES  0x1ffu /* VMM_PIECE_XSAVE .. VMM_PIECE_PIT */

static const char *guest;

/* MSRs given non-default values before a save, and those values. */
static const struct kvm_msr_entry test_msrs[] = {
	{.index = 0xc0000102, .data = 0xffff888800123000ull}, /* KERNEL_GS */
	{.index = 0xc0000082, .data = 0xffffffff81a00000ull}, /* LSTAR */
	{.index = 0xc0000081, .data = 0x0023001000000000ull}, /* STAR */
	{.index = 0xc0000083, .data = 0xffffffff81a00100ull}, /* CSTAR */
	{.index = 0xc0000084, .data = 0x47700},		      /* SFMASK */
	{.index = 0x174, .data = 0x10},			      /* SYSENTER_CS */
	{.index = 0x175, .data = 0xffffc90000001000ull},      /* _ESP */
	{.index = 0x176, .data = 0xffffffff81a00200ull},      /* _EIP */
	{.index = 0x277, .data = 0x0007010600070106ull},      /* PAT */
	{.index = MSR_TSC_AUX, .data = 7},
	{.index = 0x2ff, .data = 0xc06}, /* MTRRdefType */
};

/* Whether the saved MSR list holds index. */
static bool msr_listed(uint32_t index)
{
	unsigned n;
	const uint32_t *l = vmm_state_msr_list(&n);

	for (unsigned i = 0; i < n; i++)
		if (l[i] == index)
			return true;
	return false;
}

/* The value of MSR index in st (asserts it is there). */
static uint64_t st_msr(const struct vmm_state *st, uint32_t index)
{
	for (unsigned i = 0; i < st->nmsrs; i++)
		if (st->msrs[i].index == index)
			return st->msrs[i].data;
	TEST_ASSERT(0, "MSR 0x%x not saved", index);
	return 0;
}

/* Assert that b equals a in every piece KVM can restore exactly: regs,
 * sregs, events, XSAVE, XCRs, MP state, LAPIC, debug registers, every MSR,
 * PIC, IOAPIC, PIT (but its load times) and the software state; the
 * kvmclock of b must not be behind a's. */
static void expect_same_state(const struct vmm_state *a,
			      const struct vmm_state *b, const char *what)
{
	static const char *const names[] = {
		"xsave",      "xcrs",	   "mp_state", "lapic", "debugregs",
		"pic master", "pic slave", "ioapic",   "pit",
	};

	TEST_ASSERT(!memcmp(&a->regs, &b->regs, sizeof(a->regs)), "%s: regs",
		    what);
	TEST_ASSERT(!memcmp(&a->sregs, &b->sregs, sizeof(a->sregs)),
		    "%s: sregs", what);
	TEST_ASSERT(!memcmp(&a->events, &b->events, sizeof(a->events)),
		    "%s: events", what);
	for (unsigned i = 0; i < 9; i++)
		TEST_ASSERT(vmm_state_piece_equal(a, b, 1u << i), "%s: %s",
			    what, names[i]);
	TEST_ASSERT_EQ(a->nmsrs, b->nmsrs, "%s: MSRs", what);
	for (unsigned i = 0; i < a->nmsrs; i++) {
		TEST_ASSERT_EQ(a->msrs[i].index, b->msrs[i].index, "%s: MSR %u",
			       what, i);
		TEST_ASSERT_EQ(a->msrs[i].data, b->msrs[i].data, "%s: MSR 0x%x",
			       what, a->msrs[i].index);
	}
	TEST_ASSERT(!strcmp(what, "two fresh VMs") ||
			    b->clock.clock >= a->clock.clock,
		    "%s: kvmclock went back from %llu to %llu", what,
		    (unsigned long long)a->clock.clock,
		    (unsigned long long)b->clock.clock);
	TEST_ASSERT(!memcmp(&a->soft.serial, &b->soft.serial,
			    sizeof(a->soft.serial)),
		    "%s: software state", what);
	TEST_ASSERT_EQ(a->soft.state, b->soft.state, "%s: software state",
		       what);
	TEST_ASSERT_EQ(a->soft.snap_pending, b->soft.snap_pending,
		       "%s: software state", what);
	TEST_ASSERT_EQ(a->soft.snap_gpa, b->soft.snap_gpa, "%s: software state",
		       what);
}

/* Save vm, asserting success. */
static struct vmm_state *save(struct cowvm *vm)
{
	struct vmm_state *st;
	int r = vmm_state_save(vm, &st);

	TEST_ASSERT_EQ(r, 0, "vmm_state_save: %s", cowvm_error(vm));
	return st;
}

/* Restore st into vm, asserting success; returns the microseconds. */
static double restore(struct cowvm *vm, const struct vmm_state *st)
{
	double t0 = test_now();
	int r = vmm_state_restore(vm, st);
	double t1 = test_now();

	TEST_ASSERT_EQ(r, 0, "vmm_state_restore: %s", cowvm_error(vm));
	return st_us(t0, t1);
}

/* Make dst's RAM equal to src's, including pages dst wrote itself. */
static void copy_ram_exact(struct cowvm *dst, struct cowvm *src)
{
	struct vmm_range r[VMM_MAX_RANGES];
	unsigned n = vmm_mem_layout(src->cfg.mem_size, r);
	uint8_t a[4096], b[4096];

	for (unsigned i = 0; i < n; i++)
		for (uint64_t off = 0; off < r[i].size; off += 4096) {
			TEST_OK(cowvm_read(src, r[i].gpa + off, a, 4096));
			TEST_OK(cowvm_read(dst, r[i].gpa + off, b, 4096));
			if (memcmp(a, b, 4096))
				TEST_OK(cowvm_write(dst, r[i].gpa + off, a,
						    4096));
		}
}

/* A VM that booted the guest and ran "exit 3" to its end: not pristine. */
static struct tvm used_vm(void)
{
	struct tvm t = tvm_boot(TEST_MEM, guest, "exit 3");
	struct cowvm_exit e = tvm_run(&t);

	TEST_ASSERT_EXIT_STATUS(e, 3, "exit 3");
	TEST_ASSERT(!t.vm->pristine, "a VM that ran is not pristine");
	return t;
}

/* Two fresh VMs save as the pristine capture in every piece; restoring a
 * fresh VM's state into a fresh VM sets no device or vCPU piece. */
static void test_pristine(void)
{
	struct tvm a = st_new_vm(), b = st_new_vm();
	struct vmm_state *sa, *sb;
	struct vmm_state_stats s;

	TEST_ASSERT(a.vm->pristine && b.vm->pristine, "new VMs are pristine");
	sa = save(a.vm);
	s = vmm_state_last_stats();
	sb = save(b.vm);
	TEST_ASSERT_EQ(sa->same, ALL_PIECES,
		       "a fresh VM differs from the pristine capture");
	TEST_ASSERT_EQ(sb->same, ALL_PIECES,
		       "a fresh VM differs from the pristine capture");
	expect_same_state(sa, sb, "two fresh VMs");
	printf("pristine: save %u ioctls, %u MSRs, xsave %u bytes\n", s.ioctls,
	       sa->nmsrs, sa->xsave_size);
	restore(b.vm, sa);
	s = vmm_state_last_stats();
	TEST_ASSERT_EQ(s.restored, 0, "pieces pristine into pristine set");
	TEST_ASSERT_EQ(s.msrs, 0, "MSRs pristine into pristine set");
	TEST_ASSERT(s.sync_regs,
		    "pristine into pristine set pieces 0x%x, %u MSRs",
		    s.restored, s.msrs);
	TEST_ASSERT(!b.vm->pristine, "a restored VM is no longer pristine");
	vmm_state_free(sa);
	vmm_state_free(sb);
	tvm_free(&a);
	tvm_free(&b);
}

/* hypercalls stopped at its SNAPSHOT exit resumes in a second VM (fresh
 * or used) exactly as in the first: same output after the snapshot. */
static void test_transfer_hypercalls(bool fresh)
{
	struct tvm a = tvm_boot(TEST_MEM, guest, "hypercalls");
	struct cowvm_exit e = tvm_run(&a), eb;
	struct tvm b = fresh ? st_new_vm() : used_vm();
	struct vmm_state *sa, *sb;
	struct vmm_state_stats s;
	char *oa, *ob;
	size_t mark, mark_b = st_console_len(&b);
	double us;

	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT);
	mark = st_console_len(&a);
	sa = save(a.vm);
	if (fresh)
		printf("hypercalls: rip 0x%llx at the SNAPSHOT exit, 0x%llx "
		       "saved\n",
		       (unsigned long long)e.rip,
		       (unsigned long long)sa->regs.rip);
	copy_ram_exact(b.vm, a.vm);
	us = restore(b.vm, sa);
	s = vmm_state_last_stats();
	printf("restore hypercalls snapshot into a %s VM: %u ioctls "
	       "(pieces 0x%x, %u MSRs, sync regs %d), %.1f us\n",
	       fresh ? "fresh" : "used", s.ioctls, s.restored, s.msrs,
	       s.sync_regs, us);
	if (fresh)
		TEST_ASSERT_EQ(s.restored & sa->same, 0,
			       "pieces equal to a fresh VM's were set: 0x%x",
			       s.restored & sa->same);
	else
		TEST_ASSERT_EQ(s.restored & ALL_PIECES, ALL_PIECES,
			       "a used target must get every piece: 0x%x",
			       s.restored);
	sb = save(b.vm);
	expect_same_state(sa, sb, "hypercalls transfer");
	e = tvm_run(&a);
	eb = tvm_run(&b);
	TEST_ASSERT_EXIT_STATUS(e, 0, "a");
	TEST_ASSERT_EXIT_STATUS(eb, 0, "b");
	oa = tvm_console(&a);
	ob = tvm_console(&b);
	TEST_ASSERT(!strcmp(oa + mark, ob + mark_b),
		    "outputs differ after the snapshot:\n--- a\n%s--- b\n%s",
		    oa + mark, ob + mark_b);
	TEST_ASSERT(strstr(ob + mark_b, "snapshot tag=0xc0e5a9 ret=0") &&
			    strstr(ob + mark_b, "hypercalls: PASS"),
		    "b's output:\n%s", ob + mark_b);
	free(oa);
	free(ob);
	vmm_state_free(sa);
	vmm_state_free(sb);
	tvm_free(&a);
	tvm_free(&b);
}

/* Run t to its end, answering every SNAPSHOT exit with ret. */
static struct cowvm_exit run_forktest(struct tvm *t, int64_t ret)
{
	struct cowvm_exit e;

	for (;;) {
		TEST_OK(cowvm_set_snapshot_ret(t->vm, ret));
		e = tvm_run(t);
		if (e.reason != COWVM_EXIT_SNAPSHOT)
			return e;
	}
}

/* forktest checks GPRs, XMM, MXCSR and x87 across its snapshots: a copy
 * restored at round 1 passes and prints what the original prints. */
static void test_transfer_forktest(void)
{
	struct tvm a = tvm_boot(TEST_MEM, guest,
				"forktest seed=3 mib=1 rounds=3 pages=4");
	struct cowvm_exit e = tvm_run(&a), eb;
	struct tvm b = st_new_vm();
	struct vmm_state *sa;
	char *oa, *ob;
	size_t mark;

	TEST_ASSERT_EXIT_TAG(e, 1);
	mark = st_console_len(&a);
	sa = save(a.vm);
	TEST_ASSERT(!(sa->same & VMM_PIECE_XSAVE),
		    "forktest's XMM values must differ from a fresh VM's");
	copy_ram_exact(b.vm, a.vm);
	restore(b.vm, sa);
	e = run_forktest(&a, 5);
	eb = run_forktest(&b, 5);
	oa = tvm_console(&a);
	ob = tvm_console(&b);
	TEST_ASSERT_EXIT_STATUS(eb, 0, "b:\n%s", ob);
	TEST_ASSERT_EXIT_STATUS(e, 0, "a");
	TEST_ASSERT(!strcmp(oa + mark, ob) && strstr(ob, "forktest: PASS"),
		    "outputs differ:\n--- a\n%s--- b\n%s", oa + mark, ob);
	free(oa);
	free(ob);
	vmm_state_free(sa);
	tvm_free(&a);
	tvm_free(&b);
}

/* Give a's vCPU and devices non-default values in every piece. */
static void set_everything(struct cowvm *vm, struct vmm_state *want)
{
	int cpu = vm->vcpu.fd, vfd = vm->vm_fd;
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[16];
	} m = {.h = {.nmsrs = 0}};

	for (size_t i = 0; i < sizeof(test_msrs) / sizeof(test_msrs[0]); i++)
		if (msr_listed(test_msrs[i].index))
			m.e[m.h.nmsrs++] = test_msrs[i];
	TEST_ASSERT_GE(m.h.nmsrs, 9, "test MSRs that are saved");
	TEST_ASSERT_EQ(ioctl(cpu, KVM_SET_MSRS, &m), (int)m.h.nmsrs, "MSRS");

	TEST_ASSERT(!ioctl(cpu, KVM_GET_REGS, &want->regs), "GET_REGS");
	for (int i = 0; i < 8; i++)
		(&want->regs.rax)[i] =
			0x1111111111111111ull * (unsigned)(i + 1);
	want->regs.r15 = 0xfeedface;
	TEST_ASSERT(!ioctl(cpu, KVM_SET_REGS, &want->regs), "SET_REGS");

	want->debugregs = (struct kvm_debugregs){
		.db = {0x1000, 0x2000, 0x3000, 0x4000},
		.dr6 = 0xffff0ff0,
		.dr7 = 0x400,
	};
	TEST_ASSERT(!ioctl(cpu, KVM_SET_DEBUGREGS, &want->debugregs), "DR");

	TEST_ASSERT(!ioctl(cpu, KVM_GET_XCRS, &want->xcrs), "GET_XCRS");
	want->xcrs.xcrs[0].value = 3; /* x87 | SSE */
	TEST_ASSERT(!ioctl(cpu, KVM_SET_XCRS, &want->xcrs), "SET_XCRS");

	TEST_ASSERT(!ioctl(cpu, KVM_GET_XSAVE, want->xsave), "GET_XSAVE");
	for (int i = 0; i < 32; i++) /* xmm0 and xmm1 */
		((uint8_t *)want->xsave->region)[160 + i] = (uint8_t)(0xa0 + i);
	TEST_ASSERT(!ioctl(cpu, KVM_SET_XSAVE, want->xsave), "SET_XSAVE");

	TEST_ASSERT(!ioctl(cpu, KVM_GET_LAPIC, &want->lapic), "GET_LAPIC");
	*(uint32_t *)&want->lapic.regs[LAPIC_SPIV] = 0x1ff;
	*(uint32_t *)&want->lapic.regs[LAPIC_TPR] = 0x20;
	*(uint32_t *)&want->lapic.regs[LAPIC_LINT0] = 0x700;
	TEST_ASSERT(!ioctl(cpu, KVM_SET_LAPIC, &want->lapic), "SET_LAPIC");
	TEST_ASSERT(!ioctl(cpu, KVM_GET_LAPIC, &want->lapic), "GET_LAPIC");

	want->events = (struct kvm_vcpu_events){
		.flags = KVM_VCPUEVENT_VALID_NMI_PENDING |
			 KVM_VCPUEVENT_VALID_SHADOW,
	};
	want->events.nmi.pending = 1;
	want->events.interrupt.shadow = 1; /* KVM_X86_SHADOW_INT_MOV_SS */
	TEST_ASSERT(!ioctl(cpu, KVM_SET_VCPU_EVENTS, &want->events), "EV");

	want->mp_state.mp_state = KVM_MP_STATE_HALTED;
	TEST_ASSERT(!ioctl(cpu, KVM_SET_MP_STATE, &want->mp_state), "MP");

	want->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	TEST_ASSERT(!ioctl(vfd, KVM_GET_IRQCHIP, &want->pic_master), "PIC");
	want->pic_master.chip.pic.imr = 0xfa;
	want->pic_master.chip.pic.irq_base = 0x20;
	TEST_ASSERT(!ioctl(vfd, KVM_SET_IRQCHIP, &want->pic_master), "PIC");
	want->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	TEST_ASSERT(!ioctl(vfd, KVM_GET_IRQCHIP, &want->pic_slave), "PIC2");
	want->pic_slave.chip.pic.imr = 0xbf;
	want->pic_slave.chip.pic.irq_base = 0x28;
	TEST_ASSERT(!ioctl(vfd, KVM_SET_IRQCHIP, &want->pic_slave), "PIC2");
	want->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	TEST_ASSERT(!ioctl(vfd, KVM_GET_IRQCHIP, &want->ioapic), "IOAPIC");
	want->ioapic.chip.ioapic.redirtbl[0].bits = 0x10030;
	want->ioapic.chip.ioapic.redirtbl[5].bits = 0x10045;
	TEST_ASSERT(!ioctl(vfd, KVM_SET_IRQCHIP, &want->ioapic), "IOAPIC");

	TEST_ASSERT(!ioctl(vfd, KVM_GET_PIT2, &want->pit), "GET_PIT2");
	for (int c = 1; c < 3; c++) { /* channels without an interrupt */
		want->pit.channels[c].count = 1193 * (unsigned)c;
		want->pit.channels[c].mode = 3;
		want->pit.channels[c].rw_mode = 3;
		want->pit.channels[c].read_state = 3;
		want->pit.channels[c].write_state = 3;
	}
	TEST_ASSERT(!ioctl(vfd, KVM_SET_PIT2, &want->pit), "SET_PIT2");

	want->clock = (struct kvm_clock_data){.clock = 1000000000000ull};
	TEST_ASSERT(!ioctl(vfd, KVM_SET_CLOCK, &want->clock), "SET_CLOCK");
}

/* Every piece set on a VM is what a save reads back, and what a restore
 * puts into a fresh VM, into a used VM and back into the same VM. */
static void test_roundtrip(void)
{
	struct tvm a = tvm_boot(TEST_MEM, guest, "spin");
	struct vmm_state want = {0}, fresh, *sa, *sb;
	struct cowvm_exit e;
	struct tvm b, c;
	uint64_t tsc_a;

	want.xsave = calloc(1, 1u << 16);
	TEST_ASSERT(want.xsave, "calloc");
	TEST_OK(cowvm_set_timeout(a.vm, 200));
	e = tvm_run(&a);
	TEST_ASSERT_EXIT(e, COWVM_EXIT_TIMEOUT);
	TEST_OK(vmm_state_init());
	set_everything(a.vm, &want);
	sa = save(a.vm);
	tsc_a = st_get_msr(a.vm, MSR_TSC);

	/* get after set */
	TEST_ASSERT(!memcmp(&sa->regs, &want.regs, sizeof(want.regs)), "regs");
	TEST_ASSERT(!memcmp(&sa->debugregs, &want.debugregs,
			    sizeof(want.debugregs)),
		    "debugregs");
	TEST_ASSERT(!memcmp(&sa->xcrs, &want.xcrs, sizeof(want.xcrs)), "xcrs");
	TEST_ASSERT(!memcmp(sa->xsave, want.xsave, sa->xsave_size), "xsave");
	TEST_ASSERT(!memcmp(&sa->lapic, &want.lapic, sizeof(want.lapic)),
		    "lapic");
	TEST_ASSERT_EQ(sa->events.nmi.pending, 1, "events");
	TEST_ASSERT_EQ(sa->events.interrupt.shadow, 1, "events");
	TEST_ASSERT_EQ(sa->mp_state.mp_state, KVM_MP_STATE_HALTED, "mp");
	TEST_ASSERT(!memcmp(&sa->pic_master, &want.pic_master,
			    sizeof(want.pic_master)) &&
			    !memcmp(&sa->pic_slave, &want.pic_slave,
				    sizeof(want.pic_slave)),
		    "pic");
	TEST_ASSERT(!memcmp(&sa->ioapic, &want.ioapic, sizeof(want.ioapic)),
		    "ioapic");
	TEST_ASSERT(vmm_state_piece_equal(sa, &want, VMM_PIECE_PIT), "pit");
	TEST_ASSERT_GE(sa->clock.clock, want.clock.clock, "clock");
	TEST_ASSERT_LT(sa->clock.clock, want.clock.clock + 60000000000ull,
		       "clock");
	for (size_t i = 0; i < sizeof(test_msrs) / sizeof(test_msrs[0]); i++)
		if (msr_listed(test_msrs[i].index))
			TEST_ASSERT_EQ(st_msr(sa, test_msrs[i].index),
				       test_msrs[i].data, "MSR 0x%x",
				       test_msrs[i].index);
	TEST_ASSERT_EQ(sa->same & ALL_PIECES, 0, "every piece was changed");

	/* into a fresh VM */
	b = st_new_vm();
	restore(b.vm, sa);
	sb = save(b.vm);
	expect_same_state(sa, sb, "into a fresh VM");
	TEST_ASSERT_GE(st_get_msr(b.vm, MSR_TSC), tsc_a, "TSC went back");
	vmm_state_free(sb);

	/* into a used VM */
	c = used_vm();
	restore(c.vm, sa);
	sb = save(c.vm);
	expect_same_state(sa, sb, "into a used VM");
	TEST_ASSERT_GE(st_get_msr(c.vm, MSR_TSC), tsc_a, "TSC went back");
	vmm_state_free(sb);

	/* back into a fresh VM's state, then into the same VM again */
	fresh = *vmm_state_pristine();
	fresh.mem_size = TEST_MEM;
	restore(a.vm, &fresh);
	sb = save(a.vm);
	expect_same_state(&fresh, sb, "pristine into a");
	vmm_state_free(sb);
	restore(a.vm, sa);
	sb = save(a.vm);
	expect_same_state(sa, sb, "back into a");
	vmm_state_free(sb);

	vmm_state_free(sa);
	free(want.xsave);
	tvm_free(&a);
	tvm_free(&b);
	tvm_free(&c);
}

/* vmm_soft_copy copies the serial, hypercall and lifecycle state and the
 * command line (as a separate copy). */
static void test_soft_copy(void)
{
	struct tvm a = tvm_boot(TEST_MEM, guest, "hypercalls");
	struct cowvm_exit e = tvm_run(&a);
	struct tvm b = st_new_vm();

	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT);
	a.vm->serial.scr = 0x5a;
	a.vm->serial.lcr = 0x03;
	TEST_OK(vmm_soft_copy(b.vm, a.vm));
	TEST_ASSERT(!memcmp(&a.vm->serial, &b.vm->serial, sizeof(a.vm->serial)),
		    "serial");
	TEST_ASSERT(b.vm->snap_pending, "snapshot bookkeeping");
	TEST_ASSERT_EQ(b.vm->snap_gpa, a.vm->snap_gpa, "snapshot bookkeeping");
	TEST_ASSERT_EQ(b.vm->snap_ret, a.vm->snap_ret, "snapshot bookkeeping");
	TEST_ASSERT_EQ(b.vm->state, VMM_READY, "state");
	TEST_ASSERT(b.vm->cmdline, "cmdline");
	TEST_ASSERT_NE(b.vm->cmdline, a.vm->cmdline, "cmdline");
	TEST_ASSERT(!strcmp(b.vm->cmdline, "hypercalls"), "cmdline");
	TEST_ASSERT_EQ(b.vm->cmdline_len, a.vm->cmdline_len, "cmdline");
	tvm_free(&a);
	tvm_free(&b);
}

/* Median restore cost of a snapshot state into fresh and used VMs. */
static void measure_restore(void)
{
	struct tvm a = tvm_boot(TEST_MEM, guest, "hypercalls");
	struct cowvm_exit e = tvm_run(&a);
	double fresh[5], used[5], save_us[5];
	struct vmm_state_stats sf = {0}, su = {0}, ss = {0};
	struct vmm_state *sa = NULL;

	TEST_ASSERT_EXIT(e, COWVM_EXIT_SNAPSHOT);
	for (int i = 0; i < 5; i++) {
		struct tvm b = st_new_vm();
		double t0 = test_now();

		vmm_state_free(sa);
		sa = save(a.vm);
		save_us[i] = st_us(t0, test_now());
		ss = vmm_state_last_stats();
		fresh[i] = restore(b.vm, sa);
		sf = vmm_state_last_stats();
		used[i] = restore(b.vm, sa);
		su = vmm_state_last_stats();
		tvm_free(&b);
	}
	for (int i = 0; i < 5; i++) /* sort each, report the median */
		for (int j = i + 1; j < 5; j++) {
			double t;

#define ST_SWAP(x)                                                             \
	if (x[j] < x[i]) {                                                     \
		t = x[i];                                                      \
		x[i] = x[j];                                                   \
		x[j] = t;                                                      \
	}
			ST_SWAP(fresh) ST_SWAP(used) ST_SWAP(save_us)
		}
	printf("measure: save %u ioctls %.1f us; restore into a fresh VM %u "
	       "ioctls %.1f us; into a used VM %u ioctls %.1f us (medians of "
	       "5)\n",
	       ss.ioctls, save_us[2], sf.ioctls, fresh[2], su.ioctls, used[2]);
	vmm_state_free(sa);
	tvm_free(&a);
}

/* Run every state check against the guest ELF given as argv[1]. */
int main(int argc, char **argv)
{
	double t0 = test_now();

	TEST_ASSERT_EQ(argc, 2, "usage: test-state GUEST.elf");
	guest = argv[1];
	test_require_kvm();
	TEST_OK(vmm_state_init());
	test_pristine();
	test_transfer_hypercalls(true);
	test_transfer_hypercalls(false);
	test_transfer_forktest();
	test_roundtrip();
	test_soft_copy();
	measure_restore();
	printf("test-state: PASS (%.2f s)\n", test_now() - t0);
	return 0;
}
