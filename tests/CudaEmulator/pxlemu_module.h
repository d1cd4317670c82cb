// pxlemu_module.h: how an emulated module lists its kernels (the fake NVRTC appends a table of PXLEMU_KERNEL(name)
// entries to every kernel file it compiles). A kernel's parameter sizes and its call come from its own signature.
#pragma once
#include <cstddef>
#include <type_traits>
#include <utility>

#include "pxlemu.h"

template <typename F> struct PxlemuInvoker;

template <typename... A> struct PxlemuInvoker<void (*)(A...)>
{
    static constexpr int count = (int)sizeof...(A);
    static constexpr size_t sizes[sizeof...(A) > 0 ? sizeof...(A) : 1] = {sizeof(A)...};

    template <size_t... I> static void call(void (*f)(A...), void** args, std::index_sequence<I...>)
    {
        f(*static_cast<std::remove_cv_t<A>*>(args[I])...);
    }

    static void invoke(void* f, void** args) { call(reinterpret_cast<void (*)(A...)>(f), args, std::index_sequence_for<A...>{}); }
};

#define PXLEMU_KERNEL(name)                                                                                                \
    PxlemuKernel                                                                                                           \
    {                                                                                                                      \
        #name, PxlemuInvoker<decltype(&name)>::count, PxlemuInvoker<decltype(&name)>::sizes, (void*)&name,                \
            &PxlemuInvoker<decltype(&name)>::invoke                                                                        \
    }
