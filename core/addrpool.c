/* addrpool.c - per-network address reservations in the VM store. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "addrpool.h"
#include "store.h"
#include "util.h"

#define POOL_FILE "reservations"
#define POOL_MAX (1u << 16)

void ae_pool_fmt(uint32_t addr, char out[16])
{
	struct in_addr a = {.s_addr = htonl(addr)};

	inet_ntop(AF_INET, &a, out, 16);
}

static int cmp_addr(const void *a, const void *b)
{
	uint32_t x = ((const struct ae_resv *)a)->addr;
	uint32_t y = ((const struct ae_resv *)b)->addr;

	return x < y ? -1 : x > y;
}

static int parse_line(char *line, struct ae_resv *r)
{
	char *vm, *mac, *addr, *extra, *save = NULL;
	struct in_addr a;

	vm = strtok_r(line, " \t", &save);
	mac = strtok_r(NULL, " \t", &save);
	addr = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (!vm || !mac || !addr || extra || !ae_valid_vm_name(vm) ||
	    ae_parse_mac(mac, r->mac) < 0 || inet_pton(AF_INET, addr, &a) != 1)
		return -EINVAL;
	snprintf(r->vm, sizeof r->vm, "%s", vm);
	r->addr = ntohl(a.s_addr);
	return 0;
}

int ae_pool_read(const char *dir, struct ae_resv **out, size_t *n,
		 char *err, size_t errlen)
{
	char *path = ae_xasprintf("%s/" POOL_FILE, dir), *text, *line, *save;
	struct ae_resv *v = NULL;
	size_t len, cnt = 0, cap = 0;
	int rc, lineno = 0;

	*out = NULL;
	*n = 0;
	rc = ae_read_file(path, &text, &len, 64u << 20);
	if (rc == -ENOENT) {
		free(path);
		return 0;
	}
	if (rc < 0) {
		rc = ae_seterr(err, errlen, -rc, "%s: %s", path, strerror(-rc));
		free(path);
		return rc;
	}
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (!*line || *line == '#')
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			v = ae_xrealloc(v, cap * sizeof *v);
		}
		if (parse_line(line, &v[cnt]) < 0 || cnt >= POOL_MAX) {
			rc = ae_seterr(err, errlen, EINVAL,
				       "%s:%d: not a reservation (VMNAME MAC "
				       "ADDRESS)", path, lineno);
			free(v);
			free(text);
			free(path);
			return rc;
		}
		cnt++;
	}
	free(text);
	free(path);
	if (cnt)
		qsort(v, cnt, sizeof *v, cmp_addr);
	*out = v;
	*n = cnt;
	return 0;
}

static int pool_write(const char *dir, const struct ae_resv *v, size_t n,
		      char *err, size_t errlen)
{
	char *path = ae_xasprintf("%s/" POOL_FILE, dir);
	size_t cap = n * 112 + 64, len = 0, i;
	char *buf = ae_xmalloc(cap), mac[18], a[16];
	int rc;

	len += (size_t)snprintf(buf, cap, "# VMNAME MAC ADDRESS\n");
	for (i = 0; i < n; i++) {
		ae_format_mac(v[i].mac, mac);
		ae_pool_fmt(v[i].addr, a);
		len += (size_t)snprintf(buf + len, cap - len, "%s %s %s\n",
					v[i].vm, mac, a);
	}
	rc = ae_write_file_swap(path, buf, len, 0600);
	if (rc < 0)
		ae_seterr(err, errlen, -rc, "%s: %s", path, strerror(-rc));
	free(buf);
	free(path);
	return rc;
}

static int pool_lock(const char *dir, char *err, size_t errlen)
{
	int fd = ae_store_lock(dir, LOCK_EX);

	if (fd < 0)
		return ae_seterr(err, errlen, -fd, "%s/lock: %s", dir,
				 strerror(-fd));
	return fd;
}

int ae_pool_reserve(const char *dir, uint32_t first, uint32_t last,
		    const char *vm, const uint8_t mac[6], uint32_t *addr,
		    int *changed, char *err, size_t errlen)
{
	struct ae_resv *v = NULL;
	size_t n = 0, i;
	uint32_t want;
	int fd, rc;

	*changed = 0;
	if (!ae_valid_vm_name(vm) || first > last)
		return ae_seterr(err, errlen, EINVAL, "bad reservation request");
	if ((fd = pool_lock(dir, err, errlen)) < 0)
		return fd;
	if ((rc = ae_pool_read(dir, &v, &n, err, errlen)) < 0)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(v[i].vm, vm) && !memcmp(v[i].mac, mac, 6)) {
			char m[18];
			ae_format_mac(mac, m);
			rc = ae_seterr(err, errlen, EEXIST,
				       "MAC %s is reserved already by VM %s",
				       m, v[i].vm);
			goto out;
		}
	for (i = 0; i < n; i++)
		if (!strcmp(v[i].vm, vm) && v[i].addr >= first &&
		    v[i].addr <= last) {
			*addr = v[i].addr;
			if (memcmp(v[i].mac, mac, 6)) {
				memcpy(v[i].mac, mac, 6);
				*changed = 1;
				rc = pool_write(dir, v, n, err, errlen);
			}
			goto out;
		}
	/* an entry of this VM outside the pool (the subnet changed) goes */
	for (i = 0; i < n;)
		if (!strcmp(v[i].vm, vm)) {
			memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof *v);
			n--;
		} else {
			i++;
		}
	/* sorted by address: the first gap from `first` on */
	want = first;
	for (i = 0; i < n; i++) {
		if (v[i].addr < want)
			continue;
		if (v[i].addr > want)
			break;
		if (want == last) {
			want = 0;
			break;
		}
		want++;
	}
	if (!want || want > last) {
		rc = ae_seterr(err, errlen, ENOSPC,
			       "no free address left in the pool (%zu "
			       "reservations)", n);
		goto out;
	}
	v = ae_xrealloc(v, (n + 1) * sizeof *v);
	memset(&v[n], 0, sizeof v[n]);
	snprintf(v[n].vm, sizeof v[n].vm, "%s", vm);
	memcpy(v[n].mac, mac, 6);
	v[n].addr = want;
	n++;
	qsort(v, n, sizeof *v, cmp_addr);
	rc = pool_write(dir, v, n, err, errlen);
	if (rc == 0) {
		*addr = want;
		*changed = 1;
	}
out:
	free(v);
	close(fd);
	return rc;
}

int ae_pool_release(const char *dir, const char *vm, int *changed,
		    char *err, size_t errlen)
{
	struct ae_resv *v = NULL;
	size_t n = 0, i, k = 0;
	int fd, rc;

	*changed = 0;
	if ((fd = pool_lock(dir, err, errlen)) < 0)
		return fd;
	if ((rc = ae_pool_read(dir, &v, &n, err, errlen)) < 0)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(v[i].vm, vm))
			v[k++] = v[i];
	if (k != n) {
		*changed = 1;
		rc = pool_write(dir, v, k, err, errlen);
	}
out:
	free(v);
	close(fd);
	return rc;
}
