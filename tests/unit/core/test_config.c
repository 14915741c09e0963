/* Unit tests of core/config.c: the settings issue 10 added (--public-url, --trusted-proxy and
 * the render and body bounds), their checks, and the address ranges. */
#include "../../../src/core/config.h"
#include "../../dq_test.h"

#include <arpa/inet.h>
#include <sys/socket.h>

static int flag(dq_config_t *c, const char *a, const char *b, dq_err_t *err)
{
    char *argv[] = {(char *)"serve", (char *)a, (char *)b, NULL};
    int argc = b ? 3 : 2, i = 1;
    return dq_config_flag(c, argc, argv, &i, err);
}

DQ_TEST(public_url_is_checked_and_normalised)
{
    dq_config_t c;
    dq_err_t err = {0};
    dq_config_defaults(&c);
    DQ_CHECK_STR(c.public_url, "");
    DQ_CHECK_INT(flag(&c, "--public-url", "https://iiif.example.org/dq/", &err), 1);
    DQ_CHECK_STR(c.public_url, "https://iiif.example.org/dq"); /* trailing slash dropped */
    DQ_CHECK_INT(flag(&c, "--public-url=http://[::1]:8080", NULL, &err), 1);
    DQ_CHECK_STR(c.public_url, "http://[::1]:8080");
    static const char *const bad[] = {"javascript:alert(1)", "ftp://x", "https://", "https:///x",
                                      "https://a\"b", "https://a b", "https://x/<y>",
                                      "http://x?q=1"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        DQ_CHECK_INT(flag(&c, "--public-url", bad[i], &err), -1);
        DQ_CHECK(strstr(err.msg, "--public-url") != NULL);
    }
    DQ_CHECK_STR(c.public_url, "http://[::1]:8080"); /* a refused value changes nothing */
}

DQ_TEST(trusted_proxy_ranges_parse_and_match)
{
    dq_cidr_t r[8];
    int n = 0;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_cidr_list_parse("10.0.0.0/8, 192.168.1.7,fd00::/8 ,::1", r, 8, &n, &err) == 0);
    DQ_CHECK_INT(n, 4);
    uint8_t a[16];
    inet_pton(AF_INET, "10.200.3.4", a);
    DQ_CHECK(dq_cidr_match(r, n, AF_INET, a));
    inet_pton(AF_INET, "11.0.0.1", a);
    DQ_CHECK(!dq_cidr_match(r, n, AF_INET, a));
    inet_pton(AF_INET, "192.168.1.7", a);
    DQ_CHECK(dq_cidr_match(r, n, AF_INET, a));
    inet_pton(AF_INET, "192.168.1.8", a);
    DQ_CHECK(!dq_cidr_match(r, n, AF_INET, a)); /* a bare address is /32 */
    inet_pton(AF_INET6, "fd12::5", a);
    DQ_CHECK(dq_cidr_match(r, n, AF_INET6, a));
    inet_pton(AF_INET6, "::2", a);
    DQ_CHECK(!dq_cidr_match(r, n, AF_INET6, a));
    inet_pton(AF_INET6, "::ffff:10.1.2.3", a); /* IPv4-mapped compares as IPv4 */
    DQ_CHECK(dq_cidr_match(r, n, AF_INET6, a));
    /* odd prefix lengths cut inside a byte */
    DQ_REQUIRE(dq_cidr_list_parse("172.16.0.0/12", r, 8, &n, &err) == 0);
    inet_pton(AF_INET, "172.31.255.255", a);
    DQ_CHECK(dq_cidr_match(r, n, AF_INET, a));
    inet_pton(AF_INET, "172.32.0.0", a);
    DQ_CHECK(!dq_cidr_match(r, n, AF_INET, a));
    DQ_REQUIRE(dq_cidr_list_parse("", r, 8, &n, &err) == 0);
    DQ_CHECK_INT(n, 0);
    static const char *const bad[] = {"10.0.0.0/33", "::/129", "10.0.0.1/-1", "10.0.0.1/", "host",
                                      "10.0.0.256", "1.2.3.4/8x"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++)
        DQ_CHECK_INT(dq_cidr_list_parse(bad[i], r, 8, &n, &err), -1);
    DQ_CHECK_INT(dq_cidr_list_parse("1.1.1.1,2.2.2.2,3.3.3.3", r, 2, &n, &err), -1);
}

DQ_TEST(render_and_body_bounds_are_range_checked)
{
    dq_config_t c;
    dq_err_t err = {0};
    dq_config_defaults(&c);
    DQ_CHECK_INT(c.body_buffer_mb, 64);
    DQ_CHECK_INT(c.render_timeout_ms, 15000);
    DQ_CHECK_INT(flag(&c, "--render-slots", "3", &err), 1);
    DQ_CHECK_INT(c.render_slots, 3);
    DQ_CHECK_INT(flag(&c, "--render-timeout-ms", "10", &err), -1); /* below 100 */
    DQ_CHECK_INT(flag(&c, "--body-buffer-mb", "0", &err), -1);
    DQ_CHECK_INT(flag(&c, "--trusted-proxy", "10.0.0.0/99", &err), -1);
    DQ_CHECK(strstr(err.msg, "trusted-proxy") != NULL);
    setenv("DANQING_TRUSTED_PROXY", "127.0.0.1", 1);
    setenv("DANQING_PUBLIC_URL", "https://env.example", 1);
    DQ_CHECK_INT(dq_config_from_env(&c, &err), 0);
    DQ_CHECK_STR(c.trusted_proxy, "127.0.0.1");
    DQ_CHECK_STR(c.public_url, "https://env.example");
    setenv("DANQING_PUBLIC_URL", "nope", 1);
    DQ_CHECK_INT(dq_config_from_env(&c, &err), -1);
    DQ_CHECK(strstr(err.msg, "DANQING_PUBLIC_URL") != NULL);
}
