/* check_ready.c - the supervisor's readiness lines (ready.c): format and
 * parse round trip, each field out of range, trailing garbage, truncation,
 * and lines that are not readiness lines. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check-main.h"
#include "ready.h"

/* Parse s (a line without its newline). */
static int parse(const char *s, struct ae_ready *r)
{
	return ae_ready_parse(s, strlen(s), r);
}

static const struct ae_ready sample = {
	.sup_pid = 4242,
	.qemu_pid = 4243,
	.index = 7,
	.t_spawn = 123456789012ull,
	.t_ready = 123456999999ull,
};

static void roundtrip(const struct ae_ready *in)
{
	char buf[AE_READY_LINE_MAX];
	struct ae_ready out;
	int n = ae_ready_format(in, buf, sizeof buf);

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq((int)strlen(buf), n);
	ck_assert_msg(buf[n - 1] == '\n', "no newline: %s", buf);
	memset(&out, 0xa5, sizeof out);
	ck_assert_int_eq(ae_ready_parse(buf, (size_t)n - 1, &out), 0);
	ck_assert_int_eq(out.sup_pid, in->sup_pid);
	ck_assert_int_eq(out.qemu_pid, in->qemu_pid);
	ck_assert_uint_eq(out.index, in->index);
	ck_assert_msg(out.t_spawn == in->t_spawn, "t_spawn %llu",
		      (unsigned long long)out.t_spawn);
	ck_assert_msg(out.t_ready == in->t_ready, "t_ready %llu",
		      (unsigned long long)out.t_ready);
}

START_TEST(ready_roundtrip)
{
	struct ae_ready r = sample;
	char buf[AE_READY_LINE_MAX];

	roundtrip(&r);
	ck_assert_int_gt(ae_ready_format(&r, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "ready 4242 4243 7 123456789012 123456999999\n");
	/* the extremes of every field */
	r.sup_pid = 1;
	r.qemu_pid = 1;
	r.index = 0;
	r.t_spawn = 1;
	r.t_ready = 1;
	roundtrip(&r);
	r.sup_pid = INT_MAX;
	r.qemu_pid = INT_MAX;
	r.index = UINT_MAX;
	r.t_spawn = UINT64_MAX;
	r.t_ready = UINT64_MAX;
	roundtrip(&r);
	ck_assert_int_eq(ae_ready_format(&r, buf, sizeof buf),
			 (int)strlen("ready 2147483647 2147483647 4294967295 "
				     "18446744073709551615 "
				     "18446744073709551615\n"));
}
END_TEST

START_TEST(ready_out_of_range)
{
	struct ae_ready r;
	char buf[AE_READY_LINE_MAX];

	/* parsing: each field one past its range, or zero where 0 is not a
	 * value it takes */
	ck_assert_int_eq(parse("ready 0 2 3 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 2147483648 2 3 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 1 0 3 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 1 2147483648 3 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 1 2 4294967296 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 1 2 3 0 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 1 2 3 18446744073709551616 5", &r),
			 -EINVAL);
	ck_assert_int_eq(parse("ready 1 2 3 4 18446744073709551616", &r),
			 -EINVAL);
	ck_assert_int_eq(parse("ready 1 2 3 99999999999999999999999 5", &r),
			 -EINVAL);
	/* QEMU cannot answer before it was spawned */
	ck_assert_int_eq(parse("ready 1 2 3 5 4", &r), -EINVAL);
	/* and the same values are refused when formatting */
	r = sample;
	r.sup_pid = 0;
	ck_assert_int_eq(ae_ready_format(&r, buf, sizeof buf), -EINVAL);
	r = sample;
	r.sup_pid = (long)INT_MAX + 1;
	ck_assert_int_eq(ae_ready_format(&r, buf, sizeof buf), -EINVAL);
	r = sample;
	r.qemu_pid = -1;
	ck_assert_int_eq(ae_ready_format(&r, buf, sizeof buf), -EINVAL);
	r = sample;
	r.t_spawn = 0;
	r.t_ready = 0;
	ck_assert_int_eq(ae_ready_format(&r, buf, sizeof buf), -EINVAL);
	r = sample;
	r.t_ready = r.t_spawn - 1;
	ck_assert_int_eq(ae_ready_format(&r, buf, sizeof buf), -EINVAL);
	/* the smallest values that are in range still parse */
	ck_assert_int_eq(parse("ready 1 1 0 1 1", &r), 0);
	ck_assert_int_eq(parse("ready 2147483647 2147483647 4294967295 "
			       "18446744073709551615 18446744073709551615",
			       &r),
			 0);
}
END_TEST

START_TEST(ready_malformed)
{
	struct ae_ready r = sample, before;

	/* trailing garbage */
	ck_assert_int_eq(parse("ready 1 2 3 4 5 ", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 1 2 3 4 5 6", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 1 2 3 4 5x", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 1 2 3 4 5\r", &r), -EINVAL);
	/* a NUL inside the line counts as garbage, not as its end */
	ck_assert_int_eq(ae_ready_parse("ready 1 2 3 4 5\0junk", 20, &r),
			 -EINVAL);
	/* truncation: every prefix of a good line is refused (the last
	 * field cut short reads as a time before QEMU was spawned) */
	{
		const char *good =
			"ready 4242 4243 7 123456789012 123456999999";
		size_t n;

		for (n = 6; n < strlen(good); n++)
			ck_assert_msg(ae_ready_parse(good, n, &r) == -EINVAL,
				      "prefix of %zu bytes accepted", n);
		ck_assert_int_eq(ae_ready_parse(good, 5, &r), -EINVAL);
		ck_assert_int_eq(ae_ready_parse(good, strlen(good), &r), 0);
	}
	/* not decimal, signs, spacing, leading zeros */
	ck_assert_int_eq(parse("ready -1 2 3 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready +1 2 3 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 0x10 2 3 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 01 2 3 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 1  2 3 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready  1 2 3 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 1\t2 3 4 5", &r), -EINVAL);
	ck_assert_int_eq(parse("ready 1 2 3 4 5.0", &r), -EINVAL);
	/* longer than any readiness line */
	{
		char big[AE_READY_LINE_MAX + 16];
		memset(big, '0', sizeof big);
		memcpy(big, "ready 1 2 3 4 1", 15);
		ck_assert_int_eq(ae_ready_parse(big, sizeof big, &r), -EINVAL);
	}
	/* a failed parse leaves *r alone */
	r = sample;
	before = r;
	ck_assert_int_eq(parse("ready 1 2 3 4", &r), -EINVAL);
	ck_assert_int_eq(memcmp(&r, &before, sizeof r), 0);
	/* lines that are not readiness lines at all */
	ck_assert_int_eq(parse("readying 1 2 3 4 5", &r), -ENOENT);
	ck_assert_int_eq(parse("Ready 1 2 3 4 5", &r), -ENOENT);
	ck_assert_int_eq(parse("started 1", &r), -ENOENT);
	ck_assert_int_eq(parse("", &r), -ENOENT);
	ck_assert_int_eq(parse("read", &r), -ENOENT);
}
END_TEST

START_TEST(ready_small_buffer)
{
	char buf[AE_READY_LINE_MAX];
	int n = ae_ready_format(&sample, buf, sizeof buf);

	ck_assert_int_gt(n, 0);
	/* room for the line but not its NUL, and less */
	ck_assert_int_eq(ae_ready_format(&sample, buf, (size_t)n), -ENOSPC);
	ck_assert_int_eq(ae_ready_format(&sample, buf, 8), -ENOSPC);
	ck_assert_int_eq(ae_ready_format(&sample, buf, (size_t)n + 1), n);
	ck_assert_int_eq(ae_ready_format_started(4242, buf, 8), -ENOSPC);
}
END_TEST

START_TEST(started_line)
{
	char buf[AE_READY_LINE_MAX];
	long pid = 99;

	ck_assert_int_eq(ae_ready_format_started(4242, buf, sizeof buf),
			 (int)strlen("started 4242\n"));
	ck_assert_str_eq(buf, "started 4242\n");
	ck_assert_int_eq(ae_ready_parse_started(buf, strlen(buf) - 1, &pid), 0);
	ck_assert_int_eq(pid, 4242);
	ck_assert_int_eq(ae_ready_format_started(0, buf, sizeof buf), -EINVAL);
	ck_assert_int_eq(ae_ready_format_started((long)INT_MAX + 1, buf,
						 sizeof buf),
			 -EINVAL);
	pid = 99;
	ck_assert_int_eq(ae_ready_parse_started("started 0", 9, &pid), -EINVAL);
	ck_assert_int_eq(ae_ready_parse_started("started 2147483648", 18, &pid),
			 -EINVAL);
	ck_assert_int_eq(ae_ready_parse_started("started 12 ", 11, &pid),
			 -EINVAL);
	ck_assert_int_eq(ae_ready_parse_started("started 12x", 11, &pid),
			 -EINVAL);
	ck_assert_int_eq(ae_ready_parse_started("started ", 8, &pid), -EINVAL);
	ck_assert_int_eq(ae_ready_parse_started("started", 7, &pid), -EINVAL);
	ck_assert_int_eq(ae_ready_parse_started("ready 1 2 3 4 5", 15, &pid),
			 -ENOENT);
	ck_assert_int_eq(pid, 99);
	ck_assert_int_eq(ae_ready_parse_started("started 2147483647", 18, &pid),
			 0);
	ck_assert_int_eq(pid, INT_MAX);
}
END_TEST

static Suite *ready_suite(void)
{
	Suite *s = suite_create("ready");
	TCase *tc = tcase_create("ready");

	tcase_add_test(tc, ready_roundtrip);
	tcase_add_test(tc, ready_out_of_range);
	tcase_add_test(tc, ready_malformed);
	tcase_add_test(tc, ready_small_buffer);
	tcase_add_test(tc, started_line);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return ck_run_suite(ready_suite());
}
