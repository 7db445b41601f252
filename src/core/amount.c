#include "core/amount.h"

#include <string.h>

static const mc_amount POW10_18 = MC_AMOUNT_ONE;

mc_status mc_amount_parse(const char *s, mc_amount *out, mc_error *err) {
    mc_amount whole = 0, frac = 0;
    size_t i = 0, frac_digits = 0;
    bool any_digit = false, in_frac = false;
    if (!s || !*s)
        return mc_error_set(err, MC_ERR_INVALID, "empty amount");
    for (; s[i]; i++) {
        char c = s[i];
        if (c == '.' && !in_frac) {
            if (!any_digit)
                return mc_error_set(err, MC_ERR_INVALID, "amount '%s' needs a digit before '.'", s);
            in_frac = true;
            continue;
        }
        if (c < '0' || c > '9')
            return mc_error_set(err, MC_ERR_INVALID, "invalid character in amount '%s'", s);
        any_digit = true;
        unsigned d = (unsigned)(c - '0');
        if (in_frac) {
            if (++frac_digits > MC_AMOUNT_DECIMALS)
                return mc_error_set(err, MC_ERR_INVALID, "amount '%s' has more than 18 decimals",
                                    s);
            frac = frac * 10 + d;
        } else {
            if (whole > (MC_AMOUNT_MAX - d) / 10)
                return mc_error_set(err, MC_ERR_OVERFLOW, "amount '%s' is too large", s);
            whole = whole * 10 + d;
        }
    }
    if (!any_digit || (in_frac && frac_digits == 0))
        return mc_error_set(err, MC_ERR_INVALID, "invalid amount '%s'", s);
    for (; frac_digits < MC_AMOUNT_DECIMALS; frac_digits++)
        frac *= 10;
    if (whole > MC_AMOUNT_MAX / POW10_18)
        return mc_error_set(err, MC_ERR_OVERFLOW, "amount '%s' is too large", s);
    mc_amount total = whole * POW10_18;
    if (!mc_amount_add(&total, frac))
        return mc_error_set(err, MC_ERR_OVERFLOW, "amount '%s' is too large", s);
    *out = total;
    return MC_OK;
}

/* Writes the decimal digits of v (no leading zeros; "0" for zero); returns the length. */
static size_t format_u128(mc_amount v, char *out) {
    char tmp[48];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

void mc_amount_format(mc_amount a, char out[MC_AMOUNT_STR_MAX]) {
    size_t n = format_u128(a / POW10_18, out);
    mc_amount frac = a % POW10_18;
    if (frac == 0)
        return;
    char digits[MC_AMOUNT_DECIMALS + 1];
    for (int i = MC_AMOUNT_DECIMALS - 1; i >= 0; i--) {
        digits[i] = (char)('0' + (int)(frac % 10));
        frac /= 10;
    }
    int last = MC_AMOUNT_DECIMALS - 1;
    while (digits[last] == '0')
        last--;
    out[n++] = '.';
    memcpy(out + n, digits, (size_t)last + 1);
    out[n + (size_t)last + 1] = '\0';
}

bool mc_amount_add(mc_amount *a, mc_amount b) {
    if (*a > MC_AMOUNT_MAX - b)
        return false;
    *a += b;
    return true;
}

bool mc_amount_sub(mc_amount *a, mc_amount b) {
    if (b > *a)
        return false;
    *a -= b;
    return true;
}
