/*
 * faultlang verify: the C runtime every generated program starts with.
 *
 * One controller process runs no scenario statement itself; every scenario process
 * ("main" included) is a worker: a real process reading statement indices from its
 * command pipe and writing one fixed-size struct fv_rec back per command.  Fork in
 * the scenario is a real fork(2) made by the parent worker; `process NAME` is a
 * fresh worker forked by the controller, whose memory holds no scenario mapping.
 *
 * Measurement windows.  Between the "before" and "after" snapshots of a statement
 * nothing may fault except the statement itself:
 *  - snapshots are raw system calls (no libc, no errno) writing into a per-process
 *    MAP_SHARED scratch area, which fork never write-protects;
 *  - after every fork both sides pre-touch every page that is not scenario memory
 *    (stack, image, heap, TLS, scratch), because the first write to each of them
 *    would be a COW fault that is not the scenario's (kernel-reference, "+1 noise");
 *  - the fork statement itself takes its "after" snapshot in the same asm block as
 *    the fork, with no stack write in between, while the child waits on its pipe;
 *  - the text mapping has an anon_vma, so a fork child starts without an
 *    instruction-fetch fault (vmstat is machine-wide and would count it);
 *  - the program runs without glibc's rseq area and without address randomisation
 *    (fv_reexec).
 *
 * Output: after the scenario, the controller prints one text line per record
 * ("R key=value ...") and a final "END" line; faultlang/verify/measure.py parses it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef RUSAGE_THREAD
#define RUSAGE_THREAD 1
#endif

#define FV_PAGE 4096UL
#define FV_MAX_PROCS 64
#define FV_VMSTAT_MAX 32768
#define FV_ALTSTACK (64 * 1024)
#define FV_MAPS_MAX (256 * 1024)

/* access operations */
enum { FV_READ, FV_WRITE, FV_EXEC, FV_KREAD, FV_KWRITE };
/* statement kinds in fv_stmts[] */
enum { FV_SKIP, FV_MEASURE, FV_FORK, FV_OBSERVE, FV_SPAWN, FV_EXIT, FV_CONTROL };
/* record kinds */
enum { FV_REC_STMT = 1, FV_REC_OBSERVE, FV_REC_READY, FV_REC_EXITED, FV_REC_BASELINE,
       FV_REC_CONTROL };
/* placement of a mapping: at the simulation's address, or where the scenario said */
enum { FV_PLACE_SIM, FV_PLACE_USER };
/* per-page outcomes, in the order measure.py names them */
enum { FV_O_NONE, FV_O_MINOR, FV_O_MAJOR, FV_O_SEGV_MAPERR, FV_O_SEGV_ACCERR, FV_O_SEGV,
       FV_O_BUS_ADRERR, FV_O_BUS, FV_O_EFAULT, FV_O_SIGNAL, FV_O_BLOCKED, FV_NOUT };
/* observed page states, in the order measure.py names them */
enum { FV_S_NONE, FV_S_ZERO, FV_S_RESIDENT, FV_S_COW, FV_S_SWAPPED, FV_S_HUGE, FV_S_UFFD_WP,
       FV_S_UNMAPPED, FV_S_PRESENT, FV_S_SWAPCACHE };
/* counters: getrusage, perf (total, min, maj), /proc/vmstat */
enum { FV_C_MINFLT, FV_C_MAJFLT, FV_C_PF, FV_C_PFMIN, FV_C_PFMAJ, FV_C_PGFAULT, FV_C_PGMAJFAULT,
       FV_NCOUNT };

struct fv_range { uintptr_t start, size; };
struct fv_stmt { int kind, proc, child; void (*fn)(void); uintptr_t addr; };

extern const struct fv_stmt fv_stmts[];
extern const int fv_nstmts, fv_nprocs, fv_nranges;
extern const struct fv_range fv_ranges[];

struct fv_rec {
	int32_t kind, stmt, wid, pid;
	int64_t d[FV_NCOUNT];
	int64_t cum_minflt, cum_majflt;
	int32_t out[FV_NOUT];
	int32_t last, state, has_value, perf;
	int64_t err, value;
	uint64_t addr;
};

struct fv_snap {
	struct rusage ru;
	uint64_t perf[4];		/* PERF_FORMAT_GROUP: nr, then one value per event */
	long vm_len;
	char vm[FV_VMSTAT_MAX];
};

/* Everything a worker writes inside a window lives here (MAP_SHARED, see top). */
struct fv_scratch {
	struct fv_snap before, after;
	struct rusage ru_page;
	struct fv_rec rec;
	sigjmp_buf jb;
	volatile int armed, sig, si_code;
	volatile uintptr_t sig_addr;
	int32_t cmd, go, kval;
	int perf_fd, perf_fds[3], vmstat_fd, pagemap_fd, kpf_fd, scratch_fd;
	uint64_t pm, kpf;
	unsigned char mc;
	char altstack[FV_ALTSTACK] __attribute__((aligned(16)));
};

static struct fv_scratch *S;
static int fv_wid = -1;
static int fv_cmd[FV_MAX_PROCS][2], fv_res[FV_MAX_PROCS][2];
static char fv_maps[FV_MAPS_MAX];

/* --- raw system calls: no libc, no errno, no stack traffic of their own ---------- */

static inline __attribute__((always_inline)) long
fv_sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall" : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#define fv_sys(n, a, b, c) fv_sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static void fv_die(const char *what)
{
	fprintf(stderr, "faultlang-verify[%d]: %s: %s\n", fv_wid, what, strerror(errno));
	_exit(3);
}

/*
 * /proc/vmstat is machine-wide, so other processes' faults land in the window: read
 * it last before a statement and first after it, to keep that window short.
 */
static inline __attribute__((always_inline)) void fv_vmstat_take(struct fv_snap *s)
{
	s->vm_len = fv_sys6(SYS_pread64, S->vmstat_fd, (long)s->vm, sizeof s->vm, 0, 0, 0);
}

static inline __attribute__((always_inline)) void fv_task_take(struct fv_snap *s)
{
	fv_sys(SYS_getrusage, RUSAGE_THREAD, &s->ru, 0);
	if (S->perf_fd >= 0)
		fv_sys(SYS_read, S->perf_fd, s->perf, sizeof s->perf);
}

static inline __attribute__((always_inline)) void fv_snap_before(struct fv_snap *s)
{
	fv_task_take(s);
	fv_vmstat_take(s);
}

static inline __attribute__((always_inline)) void fv_snap_after(struct fv_snap *s)
{
	fv_vmstat_take(s);
	fv_task_take(s);
}

/*
 * fork, and in the parent take the "after" snapshot before anything else runs: no
 * call, push or store to private memory between the fork and the last syscall,
 * because every private page of the parent is write-protected from the fork on.
 * The child first blocks until the controller's go (read into the shared scratch),
 * so none of its own faults land in the parent's window (vmstat is machine-wide).
 */
static __attribute__((noinline)) long fv_fork_snap(struct fv_snap *e, long child_fd)
{
	long ret;

	__asm__ volatile(
		"mov $57, %%eax\n\t"			/* fork */
		"syscall\n\t"
		"test %%rax, %%rax\n\t"
		"jnz 3f\n\t"
		"xor %%eax, %%eax\n\t"		/* child: read(child_fd, go, 4) */
		"mov %[cfd], %%rdi\n\t"
		"mov %[go], %%rsi\n\t"
		"mov $4, %%edx\n\t"
		"syscall\n\t"
		"xor %%eax, %%eax\n\t"
		"jmp 1f\n\t"
		"3:\n\t"
		"mov %%rax, %%r12\n\t"
		"mov $17, %%eax\n\t"			/* pread64(vmstat_fd, vm, size, 0) */
		"mov %[vfd], %%rdi\n\t"
		"lea %c[ovm](%[e]), %%rsi\n\t"
		"mov %[vsz], %%edx\n\t"
		"xor %%r10d, %%r10d\n\t"
		"syscall\n\t"
		"mov %%rax, %c[olen](%[e])\n\t"
		"mov $98, %%eax\n\t"			/* getrusage(RUSAGE_THREAD, ru) */
		"mov $1, %%edi\n\t"
		"lea %c[oru](%[e]), %%rsi\n\t"
		"syscall\n\t"
		"mov %[pfd], %%rdi\n\t"		/* read(perf_fd, perf, size) */
		"test %%rdi, %%rdi\n\t"
		"js 2f\n\t"
		"xor %%eax, %%eax\n\t"
		"lea %c[operf](%[e]), %%rsi\n\t"
		"mov %[psz], %%edx\n\t"
		"syscall\n\t"
		"2:\n\t"
		"mov %%r12, %%rax\n\t"
		"1:\n\t"
		: "=&a"(ret)
		: [e] "r"(e), [pfd] "r"((long)S->perf_fd), [vfd] "r"((long)S->vmstat_fd),
		  [cfd] "r"(child_fd), [go] "r"(&S->go),
		  [oru] "i"(offsetof(struct fv_snap, ru)), [operf] "i"(offsetof(struct fv_snap, perf)),
		  [ovm] "i"(offsetof(struct fv_snap, vm)), [olen] "i"(offsetof(struct fv_snap, vm_len)),
		  [psz] "i"(sizeof e->perf), [vsz] "i"(sizeof e->vm)
		: "rcx", "r11", "rdi", "rsi", "rdx", "r10", "r12", "memory", "cc");
	return ret;
}

/* --- counters ------------------------------------------------------------------- */

static long fv_vmstat_field(const struct fv_snap *s, const char *name)
{
	size_t n = strlen(name);
	const char *p = s->vm, *end = s->vm + (s->vm_len > 0 ? s->vm_len : 0);

	while (p < end) {
		if ((size_t)(end - p) > n && !memcmp(p, name, n) && p[n] == ' ')
			return strtol(p + n + 1, NULL, 10);
		p = memchr(p, '\n', end - p);
		if (!p)
			break;
		p++;
	}
	return -1;
}

static void fv_rec_start(int kind, int stmt)
{
	memset(&S->rec, 0, sizeof S->rec);
	S->rec.kind = kind;
	S->rec.stmt = stmt;
	S->rec.wid = fv_wid;
	S->rec.pid = getpid();
	S->rec.perf = S->perf_fd >= 0;
	S->rec.last = -1;
}

static void fv_rec_deltas(void)
{
	const struct fv_snap *b = &S->before, *a = &S->after;
	int64_t *d = S->rec.d;

	d[FV_C_MINFLT] = a->ru.ru_minflt - b->ru.ru_minflt;
	d[FV_C_MAJFLT] = a->ru.ru_majflt - b->ru.ru_majflt;
	for (int i = 0; i < 3; i++)
		d[FV_C_PF + i] = S->perf_fd >= 0 ? (int64_t)(a->perf[1 + i] - b->perf[1 + i]) : -1;
	d[FV_C_PGFAULT] = fv_vmstat_field(a, "pgfault") - fv_vmstat_field(b, "pgfault");
	d[FV_C_PGMAJFAULT] = fv_vmstat_field(a, "pgmajfault") - fv_vmstat_field(b, "pgmajfault");
	S->rec.cum_minflt = a->ru.ru_minflt;
	S->rec.cum_majflt = a->ru.ru_majflt;
}

static void fv_send(void)
{
	if (write(fv_res[fv_wid][1], &S->rec, sizeof S->rec) != sizeof S->rec)
		fv_die("write record");
}

/* --- signals -------------------------------------------------------------------- */

static void fv_on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!S || !S->armed) {
		/* a fault in the runtime itself: die with the signal, do not loop */
		signal(sig, SIG_DFL);
		return;
	}
	S->armed = 0;
	S->sig = sig;
	S->si_code = si->si_code;
	S->sig_addr = (uintptr_t)si->si_addr;
	siglongjmp(S->jb, 1);
}

static void fv_signals(void)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP };
	struct sigaction sa;
	stack_t ss = { .ss_sp = S->altstack, .ss_size = sizeof S->altstack };

	if (sigaltstack(&ss, NULL))
		fv_die("sigaltstack");
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fv_on_signal;
	/* NODEFER: siglongjmp out of the handler without a sigprocmask call per page */
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (sigaction(sigs[i], &sa, NULL))
			fv_die("sigaction");
}

/* --- pre-touching everything that is not scenario memory ------------------------ */

static __attribute__((noinline)) void fv_touch_stack(void)
{
	volatile char pad[64 * 1024];

	for (size_t i = 0; i < sizeof pad; i += 512)
		pad[i] = 0;
}

static int fv_is_scenario(uintptr_t lo, uintptr_t hi)
{
	for (int i = 0; i < fv_nranges; i++)
		if (lo < fv_ranges[i].start + fv_ranges[i].size && fv_ranges[i].start < hi)
			return 1;
	return 0;
}

struct fv_vma { unsigned long lo, hi; char perms[5]; char name[64]; };

/* The next line of fv_maps (as read by fv_read_maps) into *v; NULL at the end. */
static const char *fv_next_vma(const char *line, struct fv_vma *v)
{
	const char *end;

	while (line && *line) {
		end = strchr(line, '\n');
		v->name[0] = 0;
		if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %63[^\n]", &v->lo, &v->hi, v->perms,
			   v->name) >= 3)
			return end ? end + 1 : line + strlen(line);
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

static void fv_read_maps(void)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		fv_die("open /proc/self/maps");
	while ((n = read(fd, fv_maps + len, sizeof fv_maps - 1 - len)) > 0)
		len += n;
	close(fd);
	fv_maps[len] = 0;
}

static void fv_pretouch(void)
{
	struct fv_vma v;
	const char *line = fv_maps;

	fv_touch_stack();
	fv_read_maps();
	while ((line = fv_next_vma(line, &v))) {
		if (v.perms[0] != 'r' || !strncmp(v.name, "[vvar", 5) ||
		    !strcmp(v.name, "[vsyscall]") || fv_is_scenario(v.lo, v.hi))
			continue;
		for (volatile char *p = (volatile char *)v.lo; (uintptr_t)p < v.hi; p += FV_PAGE) {
			char c = *p;

			if (v.perms[1] == 'w')
				*p = c;
		}
	}
	errno = 0;
}

/*
 * Give the text mapping an anon_vma (write one byte of it once), so that fork copies
 * its page-table entries (vma_needs_copy): a fork child then runs its first
 * instructions without an instruction-fetch fault inside the parent's window.
 */
static void fv_text_anon_vma(void)
{
	struct fv_vma v;
	const char *line = fv_maps;
	uintptr_t here = (uintptr_t)fv_text_anon_vma;

	fv_read_maps();
	while ((line = fv_next_vma(line, &v))) {
		if (here < v.lo || here >= v.hi)
			continue;
		if (!mprotect((void *)v.lo, v.hi - v.lo, PROT_READ | PROT_WRITE | PROT_EXEC)) {
			volatile char *p = (volatile char *)(here & ~(FV_PAGE - 1));

			*p = *p;
			mprotect((void *)v.lo, v.hi - v.lo, PROT_READ | PROT_EXEC);
		}
		return;
	}
}

/* --- per-process start ---------------------------------------------------------- */

static int fv_perf_open(uint64_t config, int group)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof a);
	a.type = PERF_TYPE_SOFTWARE;
	a.size = sizeof a;
	a.config = config;
	a.read_format = PERF_FORMAT_GROUP;
	/* kernel-mode faults (copy_to_user in kread/kwrite) must count too */
	a.exclude_kernel = 0;
	a.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, group, PERF_FLAG_FD_CLOEXEC);
}

static void fv_close_inherited(const struct fv_scratch *old)
{
	for (int i = 0; i < 3; i++)
		if (old->perf_fds[i] >= 0)
			close(old->perf_fds[i]);
	close(old->vmstat_fd);
	close(old->pagemap_fd);
	if (old->kpf_fd >= 0)
		close(old->kpf_fd);
	close(old->scratch_fd);
}

static void fv_start(int wid)
{
	/* a fresh scratch per process: the parent's stays shared with it after fork */
	void *p = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct fv_scratch *old = S;

	if (p == MAP_FAILED)
		fv_die("mmap scratch");
	S = p;
	fv_wid = wid;
	if (old) {	/* inherited descriptors count for, or look at, the parent */
		fv_close_inherited(old);
		munmap(old, sizeof *old);
	}
	S->perf_fds[0] = S->perf_fd = fv_perf_open(PERF_COUNT_SW_PAGE_FAULTS, -1);
	S->perf_fds[1] = S->perf_fds[2] = -1;
	if (S->perf_fd >= 0) {
		S->perf_fds[1] = fv_perf_open(PERF_COUNT_SW_PAGE_FAULTS_MIN, S->perf_fd);
		S->perf_fds[2] = fv_perf_open(PERF_COUNT_SW_PAGE_FAULTS_MAJ, S->perf_fd);
		if (S->perf_fds[1] < 0 || S->perf_fds[2] < 0)
			fv_die("perf_event_open group");
	}
	S->vmstat_fd = open("/proc/vmstat", O_RDONLY | O_CLOEXEC);
	S->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	S->kpf_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	S->scratch_fd = (int)syscall(SYS_memfd_create, "faultlang-verify", MFD_CLOEXEC);
	if (S->vmstat_fd < 0 || S->pagemap_fd < 0 || S->scratch_fd < 0)
		fv_die("open /proc/vmstat, /proc/self/pagemap or a memfd");
	/* two pages of scratch file: kread writes to the first, kwrite reads the second */
	if (ftruncate(S->scratch_fd, 2 * FV_PAGE))
		fv_die("ftruncate memfd");
	fv_signals();
	fv_pretouch();
	/* one dry run of everything a window does, so nothing in it is a first time */
	fv_snap_before(&S->before);
	fv_snap_after(&S->after);
	if (S->before.vm_len <= 0 || S->before.vm_len >= FV_VMSTAT_MAX)
		fv_die("read /proc/vmstat");
	fv_sys(SYS_getrusage, RUSAGE_THREAD, &S->ru_page, 0);
}

/* --- what statements call ------------------------------------------------------- */

static int fv_classify(long min0, long maj0)
{
	int sig = S->sig, code = S->si_code;

	if (sig == SIGSEGV && code == SEGV_MAPERR)
		return FV_O_SEGV_MAPERR;
	if (sig == SIGSEGV && code == SEGV_ACCERR)
		return FV_O_SEGV_ACCERR;
	if (sig == SIGSEGV)
		return FV_O_SEGV;
	if (sig == SIGBUS)
		return code == BUS_ADRERR ? FV_O_BUS_ADRERR : FV_O_BUS;
	if (sig)
		return FV_O_SIGNAL;
	if (S->ru_page.ru_majflt > maj0)
		return FV_O_MAJOR;
	return S->ru_page.ru_minflt > min0 ? FV_O_MINOR : FV_O_NONE;
}

/*
 * Execute the page: call into it with every general register holding a
 * non-canonical address, so whatever the page holds (zero bytes are
 * `add %al,(%rax)`) stops at once with #GP or #UD instead of running on.
 */
static __attribute__((noinline)) void fv_exec_probe(uintptr_t addr)
{
	__asm__ volatile(
		"mov %0, %%r11\n\t"
		"movabs $0x8000000000000000, %%rax\n\t"
		"mov %%rax, %%rbx\n\t" "mov %%rax, %%rcx\n\t" "mov %%rax, %%rdx\n\t"
		"mov %%rax, %%rsi\n\t" "mov %%rax, %%rdi\n\t" "mov %%rax, %%r8\n\t"
		"mov %%rax, %%r9\n\t" "mov %%rax, %%r10\n\t" "mov %%rax, %%r12\n\t"
		"mov %%rax, %%r13\n\t" "mov %%rax, %%r14\n\t" "mov %%rax, %%r15\n\t"
		"sub $128, %%rsp\n\t"		/* keep the red zone */
		"call *%%r11\n\t"
		"add $128, %%rsp\n\t"
		: : "r"(addr)
		: "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
		  "r13", "r14", "r15", "memory", "cc");
}

/* Did the signal come from a page fault on fetching the instruction at `a`? */
static int fv_fetch_fault(uintptr_t a)
{
	int code = S->si_code;

	if ((S->sig_addr & ~(FV_PAGE - 1)) != (a & ~(FV_PAGE - 1)))
		return 0;
	if (S->sig == SIGSEGV)
		return code == SEGV_MAPERR || code == SEGV_ACCERR || code == SEGV_PKUERR;
	return S->sig == SIGBUS && code == BUS_ADRERR;
}

/* set by a userfaultfd handler thread that had no answer (see the userfaultfd section) */
static volatile int fv_uffd_unanswered;

/*
 * One access to the page holding `a`. The scenario's value of a page is the int at
 * its first byte (the engine keeps one integer per page), so every access uses that.
 */
static __attribute__((noinline)) int fv_touch(int op, uintptr_t a, int value)
{
	long min0 = S->ru_page.ru_minflt, maj0 = S->ru_page.ru_majflt;
	volatile long r = 0;
	volatile int *p = (volatile int *)(a & ~(FV_PAGE - 1));

	S->sig = 0;
	if (sigsetjmp(S->jb, 0) == 0) {
		S->armed = 1;
		switch (op) {
		case FV_READ:
			S->rec.value = *p;
			S->rec.has_value = 1;
			break;
		case FV_WRITE:
			*p = value;
			break;
		case FV_EXEC:
			fv_exec_probe(a);
			break;
		case FV_KREAD:		/* write(2) from the page: copy_from_user */
			r = fv_sys6(SYS_pwrite64, S->scratch_fd, (long)p, sizeof(int), 0, 0, 0);
			break;
		case FV_KWRITE:		/* read(2) into the page: copy_to_user */
			S->kval = value;
			fv_sys6(SYS_pwrite64, S->scratch_fd, (long)&S->kval, sizeof(int), FV_PAGE, 0, 0);
			r = fv_sys6(SYS_pread64, S->scratch_fd, (long)p, sizeof(int), FV_PAGE, 0, 0);
			break;
		}
		S->armed = 0;
	}
	fv_sys(SYS_getrusage, RUSAGE_THREAD, &S->ru_page, 0);
	/* an exec that ran and then stopped (#GP, #UD...) did not fault on the fetch */
	if (op == FV_EXEC && S->sig && !fv_fetch_fault(a))
		S->sig = 0;
	if (r == -EFAULT)
		return FV_O_EFAULT;
	if (S->sig && !S->rec.addr)
		S->rec.addr = S->sig_addr;
	if (fv_uffd_unanswered) {
		fv_uffd_unanswered = 0;
		return FV_O_BLOCKED;
	}
	return fv_classify(min0, maj0);
}

static __attribute__((unused)) void
fv_access(int op, uintptr_t start, long stride, long count, int value, int value_step)
{
	fv_sys(SYS_getrusage, RUSAGE_THREAD, &S->ru_page, 0);
	for (long i = 0; i < count; i++) {
		int o = fv_touch(op, start + (uintptr_t)(i * stride), value + (int)(i * value_step));

		S->rec.out[o]++;
		S->rec.last = o;
	}
}

static void fv_error(long r)
{
	if (r < 0 && r > -4096 && !S->rec.err)
		S->rec.err = r;
}

static int fv_overlaps_runtime(uintptr_t lo, uintptr_t hi)
{
	struct fv_vma v;
	const char *line = fv_maps;

	/* fv_maps holds the layout of the last pretouch: the runtime's own mappings */
	while ((line = fv_next_vma(line, &v)))
		if (lo < v.hi && v.lo < hi && !fv_is_scenario(v.lo, v.hi))
			return 1;
	return 0;
}

static __attribute__((unused)) uintptr_t
fv_map(uintptr_t addr, uintptr_t size, int prot, int flags, int place)
{
	long r = fv_sys6(SYS_mmap, addr, size, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);

	/* `at` may replace scenario memory, as MAP_FIXED does, never the runtime's */
	if (r == -EEXIST && place == FV_PLACE_USER && !fv_overlaps_runtime(addr, addr + size))
		r = fv_sys6(SYS_mmap, addr, size, prot, flags | MAP_FIXED, -1, 0);
	fv_error(r);
	if (r < 0 && r > -4096)
		return 0;
	S->rec.addr = (uint64_t)r;
	return (uintptr_t)r;
}

static __attribute__((unused)) void
fv_range_call(long nr, uintptr_t start, uintptr_t len, long arg)
{
	fv_error(fv_sys(nr, start, len, arg));
}

/* --- swap and hugetlb ----------------------------------------------------------- */

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)		/* log2(2 MiB) << MAP_HUGE_SHIFT */
#endif
#define FV_PM_SWAP (1ULL << 62)
#define FV_PM_PRESENT (1ULL << 63)
#define FV_KPF_HUGE (1ULL << 17)	/* hugetlb */
#define FV_KPF_THP (1ULL << 22)

/*
 * `swapout`: MADV_PAGEOUT on the span, then count the pages whose PTE is now a swap
 * entry (pagemap): the value of the record. pread of pagemap writes only into the
 * scratch area, so the count adds no fault to the window.
 */
static __attribute__((unused)) void fv_swapout(uintptr_t start, uintptr_t len)
{
	fv_error(fv_sys(SYS_madvise, start, len, MADV_PAGEOUT));
	S->rec.value = 0;
	S->rec.has_value = 1;
	for (uintptr_t page = start; page < start + len; page += FV_PAGE)
		if (fv_sys6(SYS_pread64, S->pagemap_fd, (long)&S->pm, 8, (long)(page / FV_PAGE * 8),
			    0, 0) == 8 && (S->pm & (FV_PM_SWAP | FV_PM_PRESENT)) == FV_PM_SWAP)
			S->rec.value++;
}

#include <sys/ioctl.h>

/* PAGEMAP_SCAN (Linux 6.7, include/uapi/linux/fs.h), defined here for older headers */
struct fv_pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct fv_page_region { uint64_t start, end, categories; };
#define FV_PAGEMAP_SCAN _IOWR('f', 16, struct fv_pm_scan_arg)
#define FV_PAGE_IS_HUGE (1ULL << 6)

static struct fv_pm_scan_arg fv_scan;
static struct fv_page_region fv_region;

/*
 * `huge` is a page mapped by a PMD (THP, the huge zero page) or a hugetlb entry, as
 * the engine says it. KPF_THP alone cannot tell: it stays set on every page of a THP
 * whose PMD was split into PTEs. PAGEMAP_SCAN's PAGE_IS_HUGE looks at the entry; on
 * kernels without it, fall back to the page flags.
 */
static int fv_mapped_huge(uintptr_t page, uint64_t kpf)
{
	memset(&fv_scan, 0, sizeof fv_scan);
	fv_scan.size = sizeof fv_scan;
	fv_scan.start = page;
	fv_scan.end = page + FV_PAGE;
	fv_scan.vec = (uintptr_t)&fv_region;
	fv_scan.vec_len = 1;
	fv_scan.return_mask = FV_PAGE_IS_HUGE;
	fv_region.categories = 0;
	long n = fv_sys(SYS_ioctl, S->pagemap_fd, FV_PAGEMAP_SCAN, &fv_scan);
	if (n < 0)
		return (kpf & (FV_KPF_THP | FV_KPF_HUGE)) != 0;
	return n > 0 && (fv_region.categories & FV_PAGE_IS_HUGE);
}

/* --- userfaultfd: contexts, registrations and handler threads -------------------
 *
 * The `uffd ...` statements, as faultlang/runtime/uffd.py models them.  A process's
 * first `uffd register` opens a userfaultfd (userfaultfd(2) + UFFDIO_API with the
 * listed features); a later one naming other features opens another, so features
 * never change under a registered range.  An ioctl on an address goes to the context
 * that registered it, else to the newest one (none: EBADF, as the engine says).
 *
 * Every context gets a handler thread that read()s its messages and answers each
 * UFFD_EVENT_PAGEFAULT as the process's `uffd handle MODE by ACTION` says, for the
 * faulting page alone; the ioctl wakes the faulting thread, whose fault then returns
 * VM_FAULT_RETRY and is retried.  The faults are counted where the scenario's
 * accesses run: on the worker thread (getrusage(RUSAGE_THREAD), per-thread perf).
 * The handler touches no registered memory and faults on nothing inside a window:
 * it is started before the process's next window after the register (pthread_create
 * faults on the new stack, in the creating thread), touches its stack and its source
 * page, and answers with raw system calls on memory that is already there.
 *
 * A fault with no automatic answer (`manually`, no `uffd handle` for its mode, or an
 * ioctl that failed) would leave the worker asleep for good: verify does not translate
 * the accesses the engine says block (the worker cannot answer its own fault), so
 * this happens only where the real kernel disagrees with the engine.  The handler then
 * unregisters the page and wakes the thread, whose retry is an ordinary fault, and
 * the access's outcome is "blocked".
 *
 * A fork child starts without any of this (fv_uffd_forget): without
 * UFFD_FEATURE_EVENT_FORK the kernel clears the child's registrations (dup_userfaultfd),
 * as the engine does, and the handler threads were not copied anyway.
 */
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sys/ioctl.h>

/* newer than some installed headers */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move { __u64 dst, src, len, mode; __s64 move; };
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#define UFFDIO_MOVE_MODE_DONTWAKE ((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
#endif
#ifndef UFFDIO_POISON
struct uffdio_poison { struct uffdio_range range; __u64 mode; __s64 updated; };
#define UFFDIO_POISON _IOWR(UFFDIO, 0x08, struct uffdio_poison)
#define UFFDIO_POISON_MODE_DONTWAKE ((__u64)1 << 0)
#endif

#define FV_UFFD_MAX 8			/* contexts per process */
#define FV_UFFD_REGS 64			/* registered ranges per process */
#define FV_UFFD_COPY_PAGES 512		/* one UFFDIO_COPY copies at most 2 MiB */
#define FV_UFFD_STACK (256 * 1024)

/* fault reasons, and what the handler thread does for each (`uffd handle`) */
enum { FV_UFFD_MISSING, FV_UFFD_WP, FV_UFFD_MINOR, FV_UFFD_NMODES };
enum { FV_UFFD_UNSET, FV_UFFD_MANUAL, FV_UFFD_BY_COPY, FV_UFFD_BY_ZEROPAGE,
       FV_UFFD_BY_CONTINUE, FV_UFFD_BY_UNPROTECT };

struct fv_uffd_ctx {
	int fd;
	uint64_t features;
	int started;
	volatile int ready;		/* its handler thread is up and touched its memory */
	pthread_t thread;
	char *src;			/* the handler's UFFDIO_COPY source page */
	struct uffd_msg msg;
};

static struct fv_uffd_ctx fv_uffd_ctxs[FV_UFFD_MAX];
static int fv_uffd_nctx;
/* registered ranges, newest last: which context an ioctl on an address goes to */
static struct fv_uffd_reg { uintptr_t lo, hi; int ctx; } fv_uffd_regs[FV_UFFD_REGS];
static int fv_uffd_nregs;
static volatile struct { int action, value; } fv_uffd_how[FV_UFFD_NMODES];
/*
 * MAP_SHARED and populated before any window that may use it: the statements' copy
 * source (FV_UFFD_COPY_PAGES), then one source page per context's handler.  A source
 * page that is not present would be a fault in the kernel's copy_from_user.
 */
static char *fv_uffd_src;
#define FV_UFFD_SRC_SIZE ((FV_UFFD_COPY_PAGES + FV_UFFD_MAX) * FV_PAGE)

static inline long fv_uffd_ioctl(int fd, unsigned long cmd, void *arg)
{
	return fv_sys(SYS_ioctl, fd, cmd, arg);
}

/* The safety net above: no answer for this fault, so let the thread go on. */
static void fv_uffd_release(struct fv_uffd_ctx *c, uintptr_t page)
{
	struct uffdio_range r = { .start = page, .len = FV_PAGE };

	fv_uffd_unanswered = 1;
	fv_uffd_ioctl(c->fd, UFFDIO_UNREGISTER, &r);
	fv_uffd_ioctl(c->fd, UFFDIO_WAKE, &r);
}

static void fv_uffd_answer(struct fv_uffd_ctx *c)
{
	uint64_t flags = c->msg.arg.pagefault.flags;
	uintptr_t page = c->msg.arg.pagefault.address & ~(FV_PAGE - 1);
	int mode = flags & UFFD_PAGEFAULT_FLAG_WP ? FV_UFFD_WP :
		   flags & UFFD_PAGEFAULT_FLAG_MINOR ? FV_UFFD_MINOR : FV_UFFD_MISSING;
	long r = -1;

	switch (fv_uffd_how[mode].action) {
	case FV_UFFD_BY_COPY: {
		struct uffdio_copy a = { .dst = page, .src = (uintptr_t)c->src, .len = FV_PAGE };

		*(volatile int *)c->src = fv_uffd_how[mode].value;
		r = fv_uffd_ioctl(c->fd, UFFDIO_COPY, &a);
		break;
	}
	case FV_UFFD_BY_ZEROPAGE: {
		struct uffdio_zeropage a = { .range = { page, FV_PAGE } };

		r = fv_uffd_ioctl(c->fd, UFFDIO_ZEROPAGE, &a);
		break;
	}
	case FV_UFFD_BY_CONTINUE: {
		struct uffdio_continue a = { .range = { page, FV_PAGE } };

		r = fv_uffd_ioctl(c->fd, UFFDIO_CONTINUE, &a);
		break;
	}
	case FV_UFFD_BY_UNPROTECT: {
		struct uffdio_writeprotect a = { .range = { page, FV_PAGE }, .mode = 0 };

		r = fv_uffd_ioctl(c->fd, UFFDIO_WRITEPROTECT, &a);
		break;
	}
	}
	if (r < 0)
		fv_uffd_release(c, page);
}

static void *fv_uffd_handler(void *arg)
{
	struct fv_uffd_ctx *c = arg;
	sigset_t all;

	/* the scenario's signals belong to the worker thread */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	fv_touch_stack();
	*(volatile int *)c->src = 0;
	c->ready = 1;
	for (;;) {
		long n = fv_sys(SYS_read, c->fd, &c->msg, sizeof c->msg);

		if (n == -EINTR || n == -EAGAIN)
			continue;
		if (n != (long)sizeof c->msg)
			return NULL;
		/* other events (remove, unmap, remap) are done with once read */
		if (c->msg.event == UFFD_EVENT_PAGEFAULT)
			fv_uffd_answer(c);
	}
}

/* Before a window: start the handler threads of contexts opened since the last one. */
static void fv_uffd_ready(void)
{
	pthread_attr_t attr;

	if (fv_uffd_nctx && !fv_uffd_src) {
		void *p = mmap(NULL, FV_UFFD_SRC_SIZE, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

		if (p == MAP_FAILED)
			fv_die("mmap userfaultfd source pages");
		fv_uffd_src = p;
	}
	for (int i = 0; i < fv_uffd_nctx; i++) {
		struct fv_uffd_ctx *c = &fv_uffd_ctxs[i];

		if (c->started)
			continue;
		c->src = fv_uffd_src + (FV_UFFD_COPY_PAGES + i) * FV_PAGE;
		if (pthread_attr_init(&attr) || pthread_attr_setstacksize(&attr, FV_UFFD_STACK) ||
		    pthread_create(&c->thread, &attr, fv_uffd_handler, c))
			fv_die("start a userfaultfd handler thread");
		pthread_attr_destroy(&attr);
		c->started = 1;
		while (!c->ready)
			sched_yield();
	}
}

/* In a new worker: nothing of a parent's userfaultfds is ours (see the top). */
static void fv_uffd_forget(void)
{
	for (int i = 0; i < fv_uffd_nctx; i++)
		close(fv_uffd_ctxs[i].fd);
	if (fv_uffd_src)
		munmap(fv_uffd_src, FV_UFFD_SRC_SIZE);
	fv_uffd_src = NULL;
	memset(fv_uffd_ctxs, 0, sizeof fv_uffd_ctxs);
	fv_uffd_nctx = fv_uffd_nregs = 0;
	for (int m = 0; m < FV_UFFD_NMODES; m++)
		fv_uffd_how[m].action = FV_UFFD_UNSET;
}

/* The context an ioctl on `addr` goes to (runtime/uffd.py ctx_at), or -EBADF. */
static int fv_uffd_ctx_at(uintptr_t addr)
{
	for (int i = fv_uffd_nregs - 1; i >= 0; i--)
		if (fv_uffd_regs[i].lo <= addr && addr < fv_uffd_regs[i].hi)
			return fv_uffd_regs[i].ctx;
	return fv_uffd_nctx ? fv_uffd_nctx - 1 : -EBADF;
}

static long fv_uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	long fd, r;

	if (fv_uffd_nctx == FV_UFFD_MAX)
		return -EMFILE;
	fd = fv_sys(SYS_userfaultfd, O_CLOEXEC, 0, 0);
	if (fd < 0)
		return fd;
	r = fv_uffd_ioctl((int)fd, UFFDIO_API, &api);
	if (r < 0) {
		fv_sys(SYS_close, fd, 0, 0);
		return r;
	}
	fv_uffd_ctxs[fv_uffd_nctx].fd = (int)fd;
	fv_uffd_ctxs[fv_uffd_nctx].features = features;
	return fv_uffd_nctx++;
}

static __attribute__((unused)) void
fv_uffd_register(uintptr_t lo, uintptr_t len, uint64_t modes, uint64_t features)
{
	struct uffdio_register a = { .range = { lo, len }, .mode = modes };
	long c = fv_uffd_nctx - 1, r;

	if (c < 0 || (features && fv_uffd_ctxs[c].features != features))
		c = fv_uffd_open(features);
	if (c < 0) {
		fv_error(c);
		return;
	}
	r = fv_uffd_ioctl(fv_uffd_ctxs[c].fd, UFFDIO_REGISTER, &a);
	fv_error(r);
	if (r == 0 && fv_uffd_nregs < FV_UFFD_REGS)
		fv_uffd_regs[fv_uffd_nregs++] = (struct fv_uffd_reg){ lo, lo + len, (int)c };
}

static __attribute__((unused)) void fv_uffd_unregister(uintptr_t lo, uintptr_t len)
{
	struct uffdio_range a = { lo, len };
	uintptr_t hi = lo + len;
	int c = fv_uffd_ctx_at(lo);
	long r;

	if (c < 0) {
		fv_error(c);
		return;
	}
	r = fv_uffd_ioctl(fv_uffd_ctxs[c].fd, UFFDIO_UNREGISTER, &a);
	fv_error(r);
	if (r)
		return;
	/* what is left registered with this context: up to two pieces of each range */
	for (int i = 0, n = fv_uffd_nregs; i < n; i++) {
		struct fv_uffd_reg *g = &fv_uffd_regs[i];
		uintptr_t end = g->hi;

		if (g->ctx != c || end <= lo || hi <= g->lo)
			continue;
		if (g->lo < lo && hi < end && fv_uffd_nregs < FV_UFFD_REGS)
			fv_uffd_regs[fv_uffd_nregs++] = (struct fv_uffd_reg){ hi, end, c };
		if (g->lo < lo)
			g->hi = lo;
		else if (hi < end)
			g->lo = hi;
		else
			g->hi = g->lo;
	}
}

static __attribute__((unused)) void fv_uffd_handle(int mode, int action, int value)
{
	fv_uffd_how[mode].value = value;
	fv_uffd_how[mode].action = action;
}

/*
 * UFFDIO_COPY of pages holding `value`.  Up to 2 MiB is one ioctl, as the engine
 * makes it; a longer range is copied 2 MiB at a time and ends, like the one ioctl,
 * with EAGAIN after a partial fill or the first error when nothing was filled.
 */
static __attribute__((unused)) void
fv_uffd_copy(uintptr_t lo, uintptr_t len, int value, uint64_t mode)
{
	int c = fv_uffd_ctx_at(lo);

	if (c < 0) {
		fv_error(c);
		return;
	}
	for (uintptr_t i = 0; i < len && i < FV_UFFD_COPY_PAGES * FV_PAGE; i += FV_PAGE)
		*(volatile int *)(fv_uffd_src + i) = value;
	for (uintptr_t done = 0; done < len;) {
		uintptr_t n = len - done < FV_UFFD_COPY_PAGES * FV_PAGE ? len - done :
			      FV_UFFD_COPY_PAGES * FV_PAGE;
		struct uffdio_copy a = { .dst = lo + done, .src = (uintptr_t)fv_uffd_src, .len = n,
					 .mode = mode };
		long r = fv_uffd_ioctl(fv_uffd_ctxs[c].fd, UFFDIO_COPY, &a);

		if (r < 0) {
			fv_error(done ? -EAGAIN : r);
			return;
		}
		done += n;
	}
}

static __attribute__((unused)) void fv_uffd_zeropage(uintptr_t lo, uintptr_t len, uint64_t mode)
{
	struct uffdio_zeropage a = { .range = { lo, len }, .mode = mode };
	int c = fv_uffd_ctx_at(lo);

	fv_error(c < 0 ? c : fv_uffd_ioctl(fv_uffd_ctxs[c].fd, UFFDIO_ZEROPAGE, &a));
}

static __attribute__((unused)) void fv_uffd_continue(uintptr_t lo, uintptr_t len, uint64_t mode)
{
	struct uffdio_continue a = { .range = { lo, len }, .mode = mode };
	int c = fv_uffd_ctx_at(lo);

	fv_error(c < 0 ? c : fv_uffd_ioctl(fv_uffd_ctxs[c].fd, UFFDIO_CONTINUE, &a));
}

/* mode: UFFDIO_WRITEPROTECT_MODE_WP for `on`, and DONTWAKE */
static __attribute__((unused)) void
fv_uffd_writeprotect(uintptr_t lo, uintptr_t len, uint64_t mode)
{
	struct uffdio_writeprotect a = { .range = { lo, len }, .mode = mode };
	int c = fv_uffd_ctx_at(lo);

	fv_error(c < 0 ? c : fv_uffd_ioctl(fv_uffd_ctxs[c].fd, UFFDIO_WRITEPROTECT, &a));
}

static __attribute__((unused)) void fv_uffd_wake(uintptr_t lo, uintptr_t len)
{
	struct uffdio_range a = { lo, len };
	int c = fv_uffd_ctx_at(lo);

	fv_error(c < 0 ? c : fv_uffd_ioctl(fv_uffd_ctxs[c].fd, UFFDIO_WAKE, &a));
}

static __attribute__((unused)) void fv_uffd_poison(uintptr_t lo, uintptr_t len, uint64_t mode)
{
	struct uffdio_poison a = { .range = { lo, len }, .mode = mode };
	int c = fv_uffd_ctx_at(lo);

	fv_error(c < 0 ? c : fv_uffd_ioctl(fv_uffd_ctxs[c].fd, UFFDIO_POISON, &a));
}

/* UFFDIO_MOVE of `len` bytes from `src` to `dst`, on the context of `dst` */
static __attribute__((unused)) void
fv_uffd_move(uintptr_t dst, uintptr_t len, uintptr_t src, uint64_t mode)
{
	struct uffdio_move a = { .dst = dst, .src = src, .len = len, .mode = mode };
	int c = fv_uffd_ctx_at(dst);

	fv_error(c < 0 ? c : fv_uffd_ioctl(fv_uffd_ctxs[c].fd, UFFDIO_MOVE, &a));
}

/* --- observing one page (expect state / expect value) -------------------------- */

static int fv_vma_private(uintptr_t page);	/* in the files section, below */
static void fv_cached_value(uintptr_t page, int hugetlbfs_only);

static void fv_observe(uintptr_t addr)
{
	uintptr_t page = addr & ~(FV_PAGE - 1);
	uint64_t pm;

	fv_rec_start(FV_REC_OBSERVE, S->cmd);
	if (fv_sys(SYS_mincore, page, FV_PAGE, &S->mc) == -ENOMEM) {
		S->rec.state = FV_S_UNMAPPED;
		return;
	}
	if (fv_sys6(SYS_pread64, S->pagemap_fd, (long)&S->pm, 8, (long)(page / FV_PAGE * 8),
		    0, 0) != 8)
		fv_die("read pagemap");
	pm = S->pm;
	if (pm & (1ULL << 63)) {
		uint64_t pfn = pm & ((1ULL << 55) - 1);

		S->rec.state = FV_S_PRESENT;	/* without the PFN (not root) that is all we know */
		if (pfn && S->kpf_fd >= 0 &&
		    fv_sys6(SYS_pread64, S->kpf_fd, (long)&S->kpf, 8, (long)(pfn * 8), 0, 0) == 8) {
			if (fv_mapped_huge(page, S->kpf))	/* the huge zero page too */
				S->rec.state = FV_S_HUGE;
			else if (S->kpf & (1ULL << 24))		/* KPF_ZERO_PAGE */
				S->rec.state = FV_S_ZERO;
			else if (pm & (1ULL << 61))	/* a page-cache page: COW where private */
				S->rec.state = fv_vma_private(page) ? FV_S_COW : FV_S_RESIDENT;
			else
				S->rec.state = pm & (1ULL << 56) ? FV_S_RESIDENT : FV_S_COW;
		}
		if (pm & (1ULL << 57))
			S->rec.state = FV_S_UFFD_WP;
		S->sig = 0;
		if (sigsetjmp(S->jb, 0) == 0) {
			S->armed = 1;
			S->rec.value = *(volatile int *)page;
			S->armed = 0;
			S->rec.has_value = 1;
		}
	} else if (pm & FV_PM_SWAP) {
		/* mincore of a swap PTE: is its folio still in the swap cache? */
		S->rec.state = S->mc & 1 ? FV_S_SWAPCACHE : FV_S_SWAPPED;
	} else {
		S->rec.state = FV_S_NONE;
		/*
		 * No PTE: an anonymous page reads as zero, but a shmem page may sit in the
		 * page cache (mincore says so) with a value we cannot read without faulting:
		 * read it from the mapped file instead, where there is one. mincore of a
		 * hugetlb mapping looks at its page table alone, so a hugetlbfs file's page
		 * is always read from the file (a hole reads as zeros, allocating nothing).
		 */
		S->rec.has_value = !(S->mc & 1);
		fv_cached_value(page, !(S->mc & 1));
	}
}

/* --- the worker loop ------------------------------------------------------------ */

#define FV_CMD_QUIT (-1)
#define FV_CMD_BASELINE (-2)
#define FV_CMD_GO (-3)

static __attribute__((noreturn)) void fv_worker(int wid);

static void fv_measure(int k)
{
	const struct fv_stmt *st = k >= 0 ? &fv_stmts[k] : NULL;

	fv_uffd_ready();
	fv_rec_start(st ? FV_REC_STMT : FV_REC_BASELINE, k);
	fv_snap_before(&S->before);
	if (st && st->kind == FV_FORK) {
		long pid = fv_fork_snap(&S->after, fv_cmd[st->child][0]);

		if (pid == 0)
			fv_worker(st->child);
		fv_error(pid);
		/* from here on the parent's own COW faults: outside the window */
		fv_pretouch();
	} else {
		if (st)
			st->fn();
		fv_snap_after(&S->after);
	}
	fv_rec_deltas();
}

static __attribute__((noreturn)) void fv_worker_loop(void)
{
	for (;;) {
		if (read(fv_cmd[fv_wid][0], &S->cmd, sizeof S->cmd) != sizeof S->cmd)
			fv_die("read command");
		if (S->cmd == FV_CMD_QUIT) {
			fv_rec_start(FV_REC_EXITED, -1);
			fv_send();
			_exit(0);
		}
		if (S->cmd >= 0 && fv_stmts[S->cmd].kind == FV_OBSERVE)
			fv_observe(fv_stmts[S->cmd].addr);
		else
			fv_measure(S->cmd >= 0 ? S->cmd : -1);
		fv_send();
	}
}

static __attribute__((noreturn)) void fv_worker(int wid)
{
	fv_uffd_forget();
	fv_start(wid);
	fv_rec_start(FV_REC_READY, -1);
	fv_send();
	fv_worker_loop();
}

/* --- the controller ------------------------------------------------------------- */

static struct fv_rec *fv_out;
static int fv_nout, fv_maxout;
static pid_t fv_pid[FV_MAX_PROCS];

static void fv_receive(int wid)
{
	if (fv_nout == fv_maxout)
		fv_die("too many records");
	if (read(fv_res[wid][0], &fv_out[fv_nout], sizeof *fv_out) != sizeof *fv_out)
		fv_die("read record");
	if (fv_out[fv_nout].kind == FV_REC_READY)
		fv_pid[wid] = fv_out[fv_nout].pid;
	fv_nout++;
}

static void fv_tell(int wid, int32_t cmd)
{
	if (write(fv_cmd[wid][1], &cmd, sizeof cmd) != sizeof cmd)
		fv_die("write command");
}

static void fv_command(int wid, int32_t cmd)
{
	fv_tell(wid, cmd);
	fv_receive(wid);
}

static void fv_wait_gone(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	/* exit_mm runs before the pidfd becomes readable: the memory is gone by then */
	if (fd >= 0) {
		poll(&p, 1, 10000);
		close(fd);
	}
}

static void fv_started(int wid)
{
	fv_receive(wid);			/* ready */
	fv_command(wid, FV_CMD_BASELINE);	/* an empty window: what measuring costs */
}

static void fv_spawn(int wid)
{
	pid_t pid = fork();

	if (pid < 0)
		fv_die("fork");
	if (pid == 0)
		fv_worker(wid);
	fv_pretouch();
	fv_started(wid);
}

static void fv_print(const struct fv_rec *r)
{
	static const char *const counters[FV_NCOUNT] = {
		"minflt", "majflt", "page_faults", "perf_minor", "perf_major", "pgfault",
		"pgmajfault" };

	printf("R kind=%d stmt=%d wid=%d pid=%d perf=%d last=%d state=%d err=%lld addr=%#llx",
	       r->kind, r->stmt, r->wid, r->pid, r->perf, r->last, r->state, (long long)r->err,
	       (unsigned long long)r->addr);
	if (r->has_value)
		printf(" value=%lld", (long long)r->value);
	for (int i = 0; i < FV_NCOUNT; i++)
		printf(" %s=%lld", counters[i], (long long)r->d[i]);
	printf(" cum_minflt=%lld cum_majflt=%lld out=", (long long)r->cum_minflt,
	       (long long)r->cum_majflt);
	for (int i = 0; i < FV_NOUT; i++)
		printf(i ? ",%d" : "%d", r->out[i]);
	putchar('\n');
}

/*
 * Run again with a fixed layout (the runtime's own mappings stay far from the
 * scenario's) and without glibc's rseq area, which the kernel writes on return
 * to user space and which fork write-protects like any other private page.
 */
static void fv_reexec(char **argv)
{
	int persona = personality(0xffffffff);

	if (getenv("FV_REEXEC"))
		return;
	setenv("FV_REEXEC", "1", 1);
	setenv("GLIBC_TUNABLES", "glibc.pthread.rseq=0", 1);
	if (persona != -1)
		personality(persona | ADDR_NO_RANDOMIZE);
	execv("/proc/self/exe", argv);
}

/* --- files and memfd (`file`, `memfd`, file mappings, truncate, drop_caches) ------ */
/*
 * The controller runs the statements that change files (FV_CONTROL: `file`, `memfd`,
 * `truncate`, `drop_caches`) itself, outside every window, and keeps each scenario
 * file open on a fixed descriptor, FV_FILE_FD + its number. A worker, however it was
 * started, maps the same inode by opening /proc/<controller>/fd/<that descriptor>.
 * Disk files are O_TMPFILE files in $FV_SCRATCH (a directory on a disk file system
 * that faultlang verify makes per run): they never have a name, so nothing is left
 * behind even when a run is killed. tmpfs files are memfds; hugetlbfs files are
 * hugetlb memfds (MFD_HUGETLB | MFD_HUGE_2MB: a file on the kernel's internal hugetlbfs
 * mount, no mount needed), whose pages come from the 2 MiB pool (vm.nr_hugepages).
 */
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif
#define FV_FILE_FD 900
#define FV_MAX_FILES 64
#define FV_DROP_TRIES 10

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26)	/* log2(2 MiB) << MFD_HUGE_SHIFT */
#endif

enum { FV_FS_DISK, FV_FS_TMPFS, FV_FS_HUGETLBFS };

struct fv_cachestat_range { uint64_t off, len; };
struct fv_cachestat { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; };

static pid_t fv_ctl_pid;
static struct fv_rec *fv_crec;			/* the record of the control statement running */
static unsigned char fv_file_made[FV_MAX_FILES];	/* 1 + its FV_FS_* once made */

/* Runs in the controller (after fv_reexec too), before any worker exists. */
static __attribute__((constructor)) void fv_files_init(void)
{
	fv_ctl_pid = getpid();
}

static void fv_ctl_error(long err)
{
	if (err < 0 && !fv_crec->err)
		fv_crec->err = err;
}

/* Pages of file `id` in the page cache now (cachestat(2)); -1 when it cannot tell. */
static long fv_file_cached(int id)
{
	struct fv_cachestat_range range = { 0, 0 };	/* len 0: to the end of the file */
	struct fv_cachestat cs;

	if (syscall(SYS_cachestat, FV_FILE_FD + id, &range, &cs, 0))
		return -1;
	return (long)cs.nr_cache;
}

static void fv_ctl_cached(long pages)
{
	fv_crec->value = pages;
	fv_crec->has_value = pages >= 0;
}

/*
 * Free pages of the 2 MiB hugetlb pool (HugePages_Free in /proc/meminfo); -1 when it
 * cannot tell. cachestat(2) refuses hugetlbfs files (EOPNOTSUPP), so what `file` and
 * `truncate` of one did is seen in the pool instead: the pages fallocate took from
 * it, the pages a truncation gave back (the controller runs alone meanwhile, and with
 * --setup the pool is the scenario's).
 */
static long fv_pool_free(void)
{
	char buf[8192], *at;
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	at = strstr(buf, "HugePages_Free:");
	return at ? strtol(at + sizeof "HugePages_Free:" - 1, NULL, 10) : -1;
}

/* The record's value: the change in free pool pages since `before` (-1: unknown). */
static void fv_ctl_pool(long before)
{
	long after = fv_pool_free();

	fv_crec->value = after - before;
	fv_crec->has_value = before >= 0 && after >= 0;
}

/*
 * Write zeros over [from, to) in writes of the folio size, aligned on it where the
 * range allows, smaller at its edges: the page cache makes a new folio of the write's
 * size (write_begin_get_folio: fgf_set_order(len)), as the engine's fill_page_cache
 * does (the largest aligned folio that fits).
 */
static long fv_fill(int fd, uint64_t from, uint64_t to, uint64_t folio)
{
	static char *zeros;
	static uint64_t nzeros;

	if (nzeros < folio) {
		if (zeros)
			munmap(zeros, nzeros);
		zeros = mmap(NULL, folio, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (zeros == MAP_FAILED) {
			zeros = NULL;
			nzeros = 0;
			return -errno;
		}
		nzeros = folio;
	}
	for (uint64_t off = from; off < to;) {
		uint64_t n = folio;

		while (n > FV_PAGE && (off % n || off + n > to))
			n /= 2;
		if (pwrite(fd, zeros, n, (off_t)off) != (ssize_t)n)
			return -errno;
		off += n;
	}
	return 0;
}

/*
 * Empty the page cache of a clean disk file: POSIX_FADV_DONTNEED, checked with
 * cachestat. A folio still on a per-CPU LRU batch or briefly referenced elsewhere
 * stays; fadvise drains the batches itself, so a few tries are enough.
 */
static long fv_uncache(int fd, int id)
{
	for (int i = 0; i < FV_DROP_TRIES; i++) {
		int err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);

		if (err)
			return -err;
		if (fv_file_cached(id) <= 0)
			return 0;
		usleep(10000);
	}
	return 0;	/* what is left is reported as the record's cached pages */
}

static int fv_open_tmpfile(const char *name)
{
	const char *dir = getenv("FV_SCRATCH");
	char path[4096];
	int fd;

	if (!dir) {
		errno = ENOENT;
		return -1;
	}
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	/* a file system without O_TMPFILE: a named file, unlinked at once */
	snprintf(path, sizeof path, "%s/%s.%d", dir, name, (int)getpid());
	fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/*
 * `file` / `memfd`: a file of `size` bytes holding zeros. cached: `ncached` pairs of
 * page indices [a, b) that start in the page cache, in folios of `folio` bytes. A disk
 * file is written whole and synced first, so that its other pages are on the disk,
 * dropped from the cache, and the cached ranges written again (clean after a sync).
 * A tmpfs file has holes where it is not cached, as the engine's has. A hugetlbfs file
 * too: its cached ranges (whole huge pages, the language says) are fallocate(2)d from
 * the pool, as the engine's hugetlbfs_fallocate does; the record says how many pool
 * pages that took.
 */
static __attribute__((unused)) void
fv_file_create(int id, const char *name, int fs, uint64_t size, uint64_t folio,
	       const uint64_t *cached, int ncached)
{
	uint64_t pages = (size + FV_PAGE - 1) / FV_PAGE, covered = 0;
	int fd;
	long err = 0;

	long pool = fs == FV_FS_HUGETLBFS ? fv_pool_free() : -1;

	for (int i = 0; i < ncached; i++)
		covered += cached[2 * i + 1] - cached[2 * i];
	if (fs == FV_FS_DISK)
		fd = fv_open_tmpfile(name);
	else
		fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC |
				  (fs == FV_FS_HUGETLBFS ? MFD_HUGETLB | MFD_HUGE_2MB : 0));
	if (fd < 0 || id >= FV_MAX_FILES || dup3(fd, FV_FILE_FD + id, O_CLOEXEC) < 0) {
		fv_ctl_error(id >= FV_MAX_FILES ? -EMFILE : -errno);
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	fd = FV_FILE_FD + id;
	fv_file_made[id] = (unsigned char)(1 + fs);
	if (ftruncate(fd, (off_t)size))
		err = -errno;
	if (fs == FV_FS_HUGETLBFS) {
		/* mode 0 as the engine's (never past EOF: the language keeps ranges inside) */
		for (int i = 0; i < ncached && !err; i++)
			if (fallocate(fd, 0, (off_t)(cached[2 * i] * FV_PAGE),
				      (off_t)((cached[2 * i + 1] - cached[2 * i]) * FV_PAGE)))
				err = -errno;
		fv_ctl_error(err);
		fv_ctl_pool(pool);
		return;
	}
	if (!err && fs == FV_FS_DISK && covered < pages) {
		err = fv_fill(fd, 0, size, folio);
		if (!err && fsync(fd))
			err = -errno;
		if (!err)
			err = fv_uncache(fd, id);
	}
	for (int i = 0; i < ncached && !err; i++) {
		uint64_t to = cached[2 * i + 1] * FV_PAGE;

		err = fv_fill(fd, cached[2 * i] * FV_PAGE, to < size ? to : size, folio);
	}
	if (!err && fs == FV_FS_DISK && fsync(fd))
		err = -errno;
	fv_ctl_error(err);
	fv_ctl_cached(fv_file_cached(id));
}

/* `truncate FILE SIZE`: ftruncate(2) of the controller's descriptor; for a hugetlbfs
 * file the record holds the pool pages it freed (hugetlb_vmtruncate). */
static __attribute__((unused)) void fv_file_truncate(int id, uint64_t size)
{
	long pool = fv_file_made[id] == 1 + FV_FS_HUGETLBFS ? fv_pool_free() : -1;

	if (!fv_file_made[id]) {
		fv_ctl_error(-EBADF);
		return;
	}
	if (ftruncate(FV_FILE_FD + id, (off_t)size))
		fv_ctl_error(-errno);
	if (fv_file_made[id] == 1 + FV_FS_HUGETLBFS)
		fv_ctl_pool(pool);	/* what the truncation gave back to the pool */
	else
		fv_ctl_cached(fv_file_cached(id));
}

/*
 * `drop_caches`: echo 1 > /proc/sys/vm/drop_caches (root only), which drops every
 * clean, unmapped, unreferenced page-cache folio of every file, as the engine's
 * drop_pagecache does for the scenario's. The record counts the scenario's files'
 * pages still cached afterwards (not hugetlbfs files': drop_caches leaves them, and
 * cachestat cannot count them).
 */
static __attribute__((unused)) void fv_drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	long total = 0;

	if (fd < 0 || write(fd, "1", 1) != 1)
		fv_ctl_error(-errno);
	if (fd >= 0)
		close(fd);
	for (int id = 0; id < FV_MAX_FILES; id++) {
		long n = fv_file_made[id] && fv_file_made[id] != 1 + FV_FS_HUGETLBFS ?
			 fv_file_cached(id) : 0;

		if (n < 0 || total < 0)
			total = -1;
		else
			total += n;
	}
	fv_ctl_cached(total);
}

static void fv_control(int k)
{
	if (fv_nout == fv_maxout)
		fv_die("too many records");
	fv_crec = &fv_out[fv_nout++];
	memset(fv_crec, 0, sizeof *fv_crec);
	fv_crec->kind = FV_REC_CONTROL;
	fv_crec->stmt = k;
	fv_crec->wid = -1;
	fv_crec->pid = getpid();
	fv_crec->last = -1;
	fv_crec->perf = 1;	/* no scenario process ran anything: every counter is 0 */
	errno = 0;
	fv_stmts[k].fn();
	fv_crec = NULL;
}

/* "/proc/<controller>/fd/<FV_FILE_FD + id>" into buf, without libc (inside a window). */
static void fv_file_path(char *buf, int id)
{
	static const char head[] = "/proc/";
	long parts[2] = { fv_ctl_pid, FV_FILE_FD + id };
	char *p = buf;

	for (const char *h = head; *h; h++)
		*p++ = *h;
	for (int i = 0; i < 2; i++) {
		char digits[24];
		int n = 0;

		for (long v = parts[i]; v || !n; v /= 10)
			digits[n++] = (char)('0' + v % 10);
		while (n)
			*p++ = digits[--n];
		if (!i)
			for (const char *f = "/fd/"; *f; f++)
				*p++ = *f;
	}
	*p = 0;
}

static uintptr_t fv_map_fd(uintptr_t addr, uintptr_t size, int prot, int flags, int place,
			   long fd, uint64_t offset)
{
	long r = fv_sys6(SYS_mmap, addr, size, prot, flags | MAP_FIXED_NOREPLACE, fd,
			 (long)offset);

	/* `at` may replace scenario memory, as MAP_FIXED does, never the runtime's */
	if (r == -EEXIST && place == FV_PLACE_USER && !fv_overlaps_runtime(addr, addr + size))
		r = fv_sys6(SYS_mmap, addr, size, prot, flags | MAP_FIXED, fd, (long)offset);
	fv_error(r);
	if (r < 0 && r > -4096)
		return 0;
	S->rec.addr = (uint64_t)r;
	return (uintptr_t)r;
}

/* `map NAME file F`: open the controller's file afresh (its own struct file and
 * readahead state, as an open(2) + mmap(2) in a program has) and map it. */
static __attribute__((unused)) uintptr_t
fv_map_file(uintptr_t addr, uintptr_t size, int prot, int flags, int place, int id,
	    uint64_t offset)
{
	char path[64];
	long fd;
	uintptr_t a;

	fv_file_path(path, id);
	fd = fv_sys(SYS_open, path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0) {
		fv_error(fd);
		return 0;
	}
	a = fv_map_fd(addr, size, prot, flags, place, fd, offset);
	fv_sys(SYS_close, fd, 0, 0);
	return a;
}

/* `map NAME shmem private`: a MAP_PRIVATE mapping of a new tmpfs file (a memfd). */
static __attribute__((unused)) uintptr_t
fv_map_memfd(uintptr_t addr, uintptr_t size, int prot, int flags, int place)
{
	long fd = fv_sys(SYS_memfd_create, "faultlang-shmem", MFD_CLOEXEC, 0);
	uintptr_t a = 0;
	long r;

	if (fd < 0) {
		fv_error(fd);
		return 0;
	}
	r = fv_sys(SYS_ftruncate, fd, size, 0);
	fv_error(r);
	if (!r)
		a = fv_map_fd(addr, size, prot, flags, place, fd, 0);
	fv_sys(SYS_close, fd, 0, 0);
	return a;
}

/*
 * The value of a page-cache page that `page` maps without a PTE: pread(2) of the
 * mapped file (/proc/self/map_files, root only) at the page's offset. mincore said the
 * page is cached, so the read takes nothing from the disk and maps nothing.
 * hugetlbfs_only: only when the file is on hugetlbfs (whose read_iter zero-fills holes).
 */
#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif
static void fv_cached_value(uintptr_t page, int hugetlbfs_only)
{
	struct statfs sfs;
	const char *line = fv_maps;
	unsigned long lo, hi, pgoff;
	char path[96];
	int fd, value;

	fv_read_maps();
	while (line && *line) {
		if (sscanf(line, "%lx-%lx %*4s %lx", &lo, &hi, &pgoff) == 3 && lo <= page &&
		    page < hi) {
			snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", lo, hi);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return;
			if (hugetlbfs_only && (fstatfs(fd, &sfs) ||
					       (unsigned long)sfs.f_type != HUGETLBFS_MAGIC)) {
				close(fd);
				return;
			}
			S->rec.has_value = 0;
			if (pread(fd, &value, sizeof value, (off_t)(pgoff + (page - lo))) ==
			    sizeof value) {
				S->rec.value = value;
				S->rec.has_value = 1;
			}
			close(fd);
			return;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
}

/* Is the mapping holding `page` private? A page-cache page it maps is then COW. */
static int fv_vma_private(uintptr_t page)
{
	struct fv_vma v;
	const char *line = fv_maps;

	fv_read_maps();
	while ((line = fv_next_vma(line, &v)))
		if (v.lo <= page && page < v.hi)
			return v.perms[3] == 'p';
	return 0;
}

int main(int argc, char **argv)
{
	static int alive[FV_MAX_PROCS];

	(void)argc;
	fv_reexec(argv);
	if (fv_nprocs > FV_MAX_PROCS)
		return 4;
	fv_maxout = 2 * fv_nstmts + 4 * FV_MAX_PROCS;
	fv_out = calloc((size_t)fv_maxout, sizeof *fv_out);
	if (!fv_out)
		fv_die("calloc");
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (int w = 0; w < fv_nprocs; w++)
		if (pipe2(fv_cmd[w], O_CLOEXEC) || pipe2(fv_res[w], O_CLOEXEC))
			fv_die("pipe");
	printf("FV version=1 nprocs=%d nstmts=%d uid=%d\n", fv_nprocs, fv_nstmts, (int)getuid());
	fflush(stdout);
	fv_text_anon_vma();
	fv_spawn(0);
	alive[0] = 1;
	for (int k = 0; k < fv_nstmts; k++) {
		const struct fv_stmt *st = &fv_stmts[k];

		if (st->kind == FV_SPAWN) {
			fv_spawn(st->child);
			alive[st->child] = 1;
		} else if (st->kind == FV_CONTROL) {
			fv_control(k);
		} else if (st->kind == FV_SKIP || !alive[st->proc]) {
			continue;
		} else if (st->kind == FV_EXIT) {
			fv_command(st->proc, FV_CMD_QUIT);
			fv_wait_gone(fv_pid[st->proc]);
			alive[st->proc] = 0;
		} else if (st->kind == FV_FORK) {
			fv_command(st->proc, k);
			fv_tell(st->child, FV_CMD_GO);
			fv_started(st->child);
			alive[st->child] = 1;
		} else {
			fv_command(st->proc, k);
		}
	}
	for (int w = fv_nprocs - 1; w >= 0; w--)
		if (alive[w])
			fv_command(w, FV_CMD_QUIT);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	for (int i = 0; i < fv_nout; i++)
		fv_print(&fv_out[i]);
	printf("END\n");
	return 0;
}
