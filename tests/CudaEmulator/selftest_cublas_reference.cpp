// selftest_cublas_reference.cpp: part of the GEMM self-test (see selftest_cublas.cpp): the element types, written from
// the formats' definitions, the test's operands, and the independent double-precision reference.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "selftest_cublas.h"

namespace selftest {

// ---- element types, written from the formats' definitions --------------------------------------------------------------

size_t bytes_of(int type) { return type == F32 ? 4 : 2; }
const char* type_name(int type) { return type == F32 ? "f32" : type == F16 ? "f16" : "bf16"; }

namespace {

// Rounds to the nearest value with `bits` significant bits, ties to even, with exponents clamped below at min_exponent
// (so values under it are quantised like subnormals); above max_finite it is infinity.
double round_to_format(double x, int bits, int min_exponent, double max_finite)
{
    if (std::isnan(x) || std::isinf(x) || x == 0) return x;
    int exponent = std::ilogb(x);
    if (exponent < min_exponent) exponent = min_exponent;
    const double quantum = std::ldexp(1.0, exponent - (bits - 1));
    const double rounded = std::nearbyint(x / quantum) * quantum; // default rounding mode: to nearest, ties to even
    if (std::fabs(rounded) > max_finite) return std::copysign(std::numeric_limits<double>::infinity(), x);
    return rounded;
}

const double Bf16Max = std::ldexp(255.0, 127 - 7); // (2 − 2^-7) · 2^127
const double F16Max = 65504.0;

} // namespace

// The value an output of `type` must hold: the exact result rounded to float, then to the type.
double expected_in(int type, double exact)
{
    const double f = (double)(float)exact;
    if (type == F32) return f;
    if (type == BF16) return round_to_format(f, 8, -126, Bf16Max);
    return round_to_format(f, 11, -14, F16Max);
}

double decode(const void* base, size_t index, int type)
{
    if (type == F32)
    {
        float f;
        std::memcpy(&f, static_cast<const char*>(base) + index * 4, 4);
        return f;
    }
    uint16_t h;
    std::memcpy(&h, static_cast<const char*>(base) + index * 2, 2);
    if (type == BF16)
    {
        const uint32_t widened = (uint32_t)h << 16;
        float f;
        std::memcpy(&f, &widened, 4);
        return f;
    }
    const int exponent = (h >> 10) & 31, mantissa = h & 1023;
    const double sign = (h & 0x8000) != 0 ? -1.0 : 1.0;
    if (exponent == 31) return mantissa != 0 ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
    if (exponent == 0) return sign * std::ldexp((double)mantissa, -24);
    return sign * std::ldexp(1024.0 + mantissa, exponent - 25);
}

// Stores a value the type holds exactly (the test's operands are all such values).
void encode(void* base, size_t index, int type, double value)
{
    char* at = static_cast<char*>(base) + index * bytes_of(type);
    if (type == F32)
    {
        const float f = (float)value;
        std::memcpy(at, &f, 4);
        return;
    }
    uint16_t h;
    if (type == BF16)
    {
        const float f = (float)value;
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        h = (uint16_t)(bits >> 16);
    }
    else
    {
        const double magnitude = std::fabs(value);
        const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
        if (magnitude == 0) h = sign;
        else if (magnitude < std::ldexp(1.0, -14)) h = (uint16_t)(sign | (uint16_t)std::ldexp(magnitude, 24));
        else
        {
            const int exponent = std::ilogb(magnitude);
            h = (uint16_t)(sign | ((exponent + 15) << 10) | ((uint16_t)(std::ldexp(magnitude, 10 - exponent)) - 1024));
        }
    }
    if (decode(&h, 0, type) != value && !std::isnan(value))
    {
        std::fprintf(stderr, "test bug: %.17g is not exact in %s\n", value, type_name(type));
        std::abort();
    }
    std::memcpy(at, &h, 2);
}

void fill_nan(std::vector<unsigned char>& storage) { std::memset(storage.data(), 0xff, storage.size()); } // NaN in every type

namespace {

std::mt19937 rng(12345);

// A multiple of 1/16 in [-4, 4]: exact in every type, products and k-long sums exact in double.
double small_value() { return (double)((int)(rng() % 129) - 64) / 16.0; }

double any_float()
{
    std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
    return (double)dist(rng);
}

} // namespace

std::vector<unsigned char> random_matrix(size_t elements, int type, bool exact)
{
    std::vector<unsigned char> storage(elements * bytes_of(type));
    for (size_t i = 0; i < elements; i++) encode(storage.data(), i, type, exact ? small_value() : any_float());
    return storage;
}

// ---- the independent reference ----------------------------------------------------------------------------------------

namespace {

// op(X)(row, col) of a column-major X.
double op_element(const Operand& x, long long row, long long col)
{
    const long long index = x.trans == OpN ? row + col * x.ld : col + row * x.ld;
    return decode(x.data, (size_t)index, x.type);
}

} // namespace

// The exact (double) value α·Σ op(A)(i, p)·op(B)(p, j) + β·C(i, j) + bias(i); C is not read when β is 0.
double exact_element(const Operand& a, const Operand& b, int k, double alpha, double beta, const void* c, int c_type, long long ldc,
                     const void* bias, int bias_type, long long i, long long j)
{
    double sum = 0;
    for (int p = 0; p < k; p++) sum += op_element(a, i, p) * op_element(b, p, j);
    double v = alpha * sum;
    if (beta != 0) v += beta * decode(c, (size_t)(i + j * ldc), c_type);
    if (bias != nullptr) v += decode(bias, (size_t)i, bias_type);
    return v;
}

bool same(double got, double want, bool exact, int type)
{
    if (std::isnan(want)) return std::isnan(got);
    if (exact || std::isinf(want)) return got == want;
    // One ulp of the output type (f32 with arbitrary operands: the sum of k products is exact to far below this).
    const int bits = type == F32 ? 24 : type == BF16 ? 8 : 11;
    const double ulp = want == 0 ? 1e-30 : std::ldexp(1.0, std::ilogb(want) - (bits - 1));
    return std::fabs(got - want) <= ulp;
}

// Compares one m × n output at `d` (leading dimension ldd) with the expected values; returns a description of the
// first mismatch, or "" when all match.
std::string compare(const void* d, int type, long long ldd, int m, int n, const std::function<double(long long, long long)>& exact_value,
                    bool exact)
{
    int bad = 0;
    std::string first;
    for (long long j = 0; j < n; j++)
        for (long long i = 0; i < m; i++)
        {
            const double want = expected_in(type, exact_value(i, j));
            const double got = decode(d, (size_t)(i + j * ldd), type);
            if (same(got, want, exact, type)) continue;
            if (bad++ == 0)
            {
                char text[160];
                std::snprintf(text, sizeof text, "(%lld, %lld) got %.9g want %.9g", i, j, got, want);
                first = text;
            }
        }
    if (bad == 0) return "";
    return std::to_string(bad) + " wrong, first " + first;
}

// Elements of `after` outside the written set must be unchanged from `before` (padding rows, gaps between batches).
std::string untouched(const std::vector<unsigned char>& before, const std::vector<unsigned char>& after, int type,
                      const std::vector<bool>& written)
{
    const size_t size = bytes_of(type);
    for (size_t e = 0; e < written.size(); e++)
        if (!written[e] && std::memcmp(&before[e * size], &after[e * size], size) != 0)
            return "element " + std::to_string(e) + " outside the output was written";
    return "";
}

} // namespace selftest
