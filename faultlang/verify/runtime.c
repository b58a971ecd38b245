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
enum { FV_SKIP, FV_MEASURE, FV_FORK, FV_OBSERVE, FV_SPAWN, FV_EXIT };
/* record kinds */
enum { FV_REC_STMT = 1, FV_REC_OBSERVE, FV_REC_READY, FV_REC_EXITED, FV_REC_BASELINE };
/* placement of a mapping: at the simulation's address, or where the scenario said */
enum { FV_PLACE_SIM, FV_PLACE_USER };
/* per-page outcomes, in the order measure.py names them */
enum { FV_O_NONE, FV_O_MINOR, FV_O_MAJOR, FV_O_SEGV_MAPERR, FV_O_SEGV_ACCERR, FV_O_SEGV,
       FV_O_BUS_ADRERR, FV_O_BUS, FV_O_EFAULT, FV_O_SIGNAL, FV_NOUT };
/* observed page states, in the order measure.py names them */
enum { FV_S_NONE, FV_S_ZERO, FV_S_RESIDENT, FV_S_COW, FV_S_SWAPPED, FV_S_HUGE, FV_S_UFFD_WP,
       FV_S_UNMAPPED, FV_S_PRESENT };
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

/* --- observing one page (expect state / expect value) -------------------------- */

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
			if (S->kpf & (1ULL << 24))		/* KPF_ZERO_PAGE */
				S->rec.state = FV_S_ZERO;
			else if (S->kpf & (1ULL << 22))		/* KPF_THP */
				S->rec.state = FV_S_HUGE;
			else if (pm & (1ULL << 61))	/* file page or shared anon: never COW */
				S->rec.state = FV_S_RESIDENT;
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
	} else if (pm & (1ULL << 62)) {
		S->rec.state = FV_S_SWAPPED;
	} else {
		S->rec.state = FV_S_NONE;
		/*
		 * No PTE: an anonymous page reads as zero, but a shmem page may sit in the
		 * page cache (mincore says so) with a value we cannot read without faulting.
		 */
		S->rec.has_value = !(S->mc & 1);
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
