/*
 * vde-bench.c - VDE backend benchmark (run by bench/vde-bench.sh).
 *
 *   vde-bench attach N       attach latency: attach() until a port of the
 *                            switch is usable, with a cold switch (the
 *                            plugin starts it) and a warm one; N rounds
 *   vde-bench frames SIZE SECONDS
 *                            frames per second between two ports of one
 *                            switch through libvdeplug, and the same
 *                            traffic sent through a vde_plug process
 *
 * Output: "key value" lines for the script to tabulate.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvdeplug.h>

#include "instance.h"
#include "util.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static VDECONN *port_open(const char *sock)
{
	struct vde_open_args args = {.port = 0, .group = NULL, .mode = 0700};

	return vde_open((char *)sock, (char *)"vde-bench", &args);
}

static struct ae_instance *open_inst(void)
{
	struct ae_instance *inst = NULL;
	char err[512];

	if (ae_instance_open_text("vde", NULL, "", "vde-bench", &inst, err,
				  sizeof err) < 0) {
		fprintf(stderr, "vde-bench: %s\n", err);
		exit(1);
	}
	return inst;
}

static void vm_make(struct aether_vm *vm, const char *name, unsigned idx)
{
	const char *rt = getenv("AETHER_RUNTIME_DIR");
	char *dir = ae_xasprintf("%s/bench-%s", rt ? rt : "/tmp", name);

	mkdir(dir, 0700);
	ae_vm_init(vm, name, idx, dir);
}

/* attach + open a port on the switch: seconds */
static double timed_attach(struct ae_instance *inst, struct aether_vm *vm,
			   void **st)
{
	struct aether_attachment att;
	double t0 = now_s(), t;
	VDECONN *c;

	if (ae_instance_attach(inst, vm, &att, st) != 0) {
		fprintf(stderr, "vde-bench: attach failed\n");
		exit(1);
	}
	c = port_open(att.vde.sock);
	t = now_s() - t0;
	if (!c) {
		fprintf(stderr, "vde-bench: port not usable: %s\n",
			strerror(errno));
		exit(1);
	}
	vde_close(c);
	return t;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int bench_attach(int n)
{
	struct ae_instance *inst = open_inst();
	struct aether_vm vm, holder;
	struct aether_attachment hatt;
	double *cold = calloc((size_t)n, sizeof *cold);
	double *warm = calloc((size_t)n, sizeof *warm);
	void *st, *hst;
	int i;

	ae_log_level = 4;
	vm_make(&vm, "b1", 0);
	vm_make(&holder, "holder", 1);
	for (i = 0; i < n; i++) {
		cold[i] = timed_attach(inst, &vm, &st);
		ae_instance_detach(inst, &vm, st); /* stops the switch */
	}
	if (ae_instance_attach(inst, &holder, &hatt, &hst) != 0)
		return 1;
	for (i = 0; i < n; i++) {
		warm[i] = timed_attach(inst, &vm, &st);
		ae_instance_detach(inst, &vm, st);
	}
	ae_instance_detach(inst, &holder, hst);
	qsort(cold, (size_t)n, sizeof *cold, cmp_d);
	qsort(warm, (size_t)n, sizeof *warm, cmp_d);
	printf("attach_cold_median_ms %.2f\nattach_cold_min_ms %.2f\n"
	       "attach_cold_max_ms %.2f\n",
	       cold[n / 2] * 1e3, cold[0] * 1e3, cold[n - 1] * 1e3);
	printf("attach_warm_median_ms %.2f\nattach_warm_min_ms %.2f\n"
	       "attach_warm_max_ms %.2f\n",
	       warm[n / 2] * 1e3, warm[0] * 1e3, warm[n - 1] * 1e3);
	ae_instance_close(inst);
	return 0;
}

/* ------------------------------------------------------------------ */

static const unsigned char MAC_A[6] = {0x02, 0xbe, 0, 0, 0, 0x0a};
static const unsigned char MAC_B[6] = {0x02, 0xbe, 0, 0, 0, 0x0b};

struct rx {
	VDECONN *c;
	volatile int stop;
	unsigned long frames;
	double last;
};

static void *rx_thread(void *arg)
{
	struct rx *r = arg;
	struct pollfd pfd = {.fd = vde_datafd(r->c), .events = POLLIN};
	unsigned char buf[VDE_ETHBUFSIZE];

	while (!r->stop) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (vde_recv(r->c, buf, sizeof buf, 0) > 14 && buf[12] == 0x88 &&
		    buf[13] == 0xb6) {
			r->frames++;
			r->last = now_s();
		}
	}
	return NULL;
}

static void make_frame(unsigned char *f, size_t size)
{
	memset(f, 0x5a, size);
	memcpy(f, MAC_B, 6);
	memcpy(f + 6, MAC_A, 6);
	f[12] = 0x88;
	f[13] = 0xb6;
}

/* Let the switch learn where MAC_B is. */
static void learn(VDECONN *b)
{
	unsigned char f[64];

	memset(f, 0, sizeof f);
	memset(f, 0xff, 6);
	memcpy(f + 6, MAC_B, 6);
	f[12] = 0x88;
	f[13] = 0xb7;
	vde_send(b, f, sizeof f, 0);
	usleep(50000);
}

static void report(const char *path, size_t size, unsigned long sent,
		   unsigned long got, double t0, double t1)
{
	double secs = t1 - t0;

	printf("%s_%zu_sent %lu\n%s_%zu_received %lu\n%s_%zu_fps %.0f\n"
	       "%s_%zu_mbps %.1f\n",
	       path, size, sent, path, size, got, path, size,
	       secs > 0 ? got / secs : 0.0, path, size,
	       secs > 0 ? got * size * 8 / secs / 1e6 : 0.0);
}

static int bench_frames(size_t size, double seconds)
{
	struct ae_instance *inst = open_inst();
	struct aether_vm vm;
	struct aether_attachment att;
	unsigned char frame[1600], hdr[2];
	struct rx r;
	pthread_t th;
	double t0, end;
	unsigned long sent;
	int in[2], pid, i;
	VDECONN *a;
	void *st;

	ae_log_level = 4;
	vm_make(&vm, "fps", 0);
	if (ae_instance_attach(inst, &vm, &att, &st) != 0)
		return 1;
	make_frame(frame, size);

	/* 1. libvdeplug to libvdeplug */
	a = port_open(att.vde.sock);
	memset(&r, 0, sizeof r);
	r.c = port_open(att.vde.sock);
	if (!a || !r.c)
		return 1;
	learn(r.c);
	pthread_create(&th, NULL, rx_thread, &r);
	t0 = now_s();
	end = t0 + seconds;
	for (sent = 0; now_s() < end;) {
		for (i = 0; i < 64; i++)
			if (vde_send(a, frame, size, 0) == (ssize_t)size)
				sent++;
	}
	usleep(200000);
	r.stop = 1;
	pthread_join(th, NULL);
	report("libvdeplug", size, sent, r.frames, t0,
	       r.last > end ? r.last : end);
	vde_close(a);

	/* 2. the same frames sent through a vde_plug process (its stdin is a
	 * vdestream: 2-byte big-endian length, then the frame) */
	if (pipe(in) < 0)
		return 1;
	pid = fork();
	if (pid == 0) {
		char url[4200];
		int nul = open("/dev/null", O_RDWR);
		snprintf(url, sizeof url, "vde://%s", att.vde.sock);
		dup2(in[0], 0);
		dup2(nul, 1);
		close(in[1]);
		execlp("vde_plug", "vde_plug", url, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	usleep(300000); /* let it connect */
	r.stop = 0;
	r.frames = 0;
	r.last = 0;
	pthread_create(&th, NULL, rx_thread, &r);
	hdr[0] = (unsigned char)(size >> 8);
	hdr[1] = (unsigned char)(size & 0xff);
	{
		unsigned char buf[64 * 1602];
		size_t off = 0;
		for (i = 0; i < 64; i++) {
			memcpy(buf + off, hdr, 2);
			memcpy(buf + off + 2, frame, size);
			off += size + 2;
		}
		t0 = now_s();
		end = t0 + seconds;
		for (sent = 0; now_s() < end; sent += 64)
			if (write(in[1], buf, off) != (ssize_t)off)
				break;
	}
	usleep(200000);
	r.stop = 1;
	pthread_join(th, NULL);
	report("vde_plug", size, sent, r.frames, t0,
	       r.last > end ? r.last : end);
	close(in[1]);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	vde_close(r.c);
	ae_instance_detach(inst, &vm, st);
	ae_instance_close(inst);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "attach"))
		return bench_attach(atoi(argv[2]) > 0 ? atoi(argv[2]) : 5);
	if (argc == 4 && !strcmp(argv[1], "frames"))
		return bench_frames((size_t)atoi(argv[2]), atof(argv[3]));
	fprintf(stderr, "usage: vde-bench attach N | frames SIZE SECONDS\n");
	return 2;
}
