/* amount.h - token amounts: unsigned 128-bit counts of attos (10^-18 token).
 *
 * Never floating point. Decimal strings have at most 18 fractional digits; printing drops
 * trailing fractional zeros ("12.5", "1000", "0.000000000000000001"). Arithmetic is
 * checked: overflow and underflow are errors, never wrap. */
#ifndef MC_CORE_AMOUNT_H
#define MC_CORE_AMOUNT_H

#include "base/status.h"

#include <stdbool.h>

typedef unsigned __int128 mc_amount;

#define MC_AMOUNT_DECIMALS 18
#define MC_AMOUNT_ONE ((mc_amount)1000000000000000000ull)
#define MC_AMOUNT_MAX (~(mc_amount)0)
/* Longest printed amount: 39 digits + '.' + NUL, rounded up. */
#define MC_AMOUNT_STR_MAX 48

/* Parses "123", "12.5", "0.000000000000000001". Rejects empty strings, signs, spaces,
 * exponents, more than 18 decimals and values above MC_AMOUNT_MAX. */
mc_status mc_amount_parse(const char *s, mc_amount *out, mc_error *err);
/* Formats into out (MC_AMOUNT_STR_MAX bytes). */
void mc_amount_format(mc_amount a, char out[MC_AMOUNT_STR_MAX]);
/* *a += b; returns false (leaving *a unchanged) on overflow. */
bool mc_amount_add(mc_amount *a, mc_amount b);
/* *a -= b; returns false (leaving *a unchanged) if b > *a. */
bool mc_amount_sub(mc_amount *a, mc_amount b);

#endif
