// emu_runtime.cpp — runs kernels/*.cu (compiled by g++ with cuda_emu.h) on the CPU, and the C API of
// libcudaadam_emu.so used by src/CudaAdam.Cuda/Emulator/EmulatedDevice.cs.
//
// A launch hands its blocks to a pool of OS threads (CUDAADAM_EMU_THREADS, default: the number of cores); a block
// with one block only runs on the calling thread. Inside one block, the CUDA threads are fibers on one OS thread,
// scheduled cooperatively in passes: each runnable fiber runs until it finishes, reaches __syncthreads, or reaches a
// warp operation. After a pass:
//   * a warp operation whose participating lanes (the mask's lanes that exist in the block) have all arrived is
//     computed for all of them at once (lock-step, as on the GPU), and they become runnable;
//   * otherwise, if every live thread waits at __syncthreads, the barrier opens. If some threads exited instead, the
//     barrier can never complete: that is reported as a deadlock (on a GPU it is undefined behaviour or a hang).
//   * if nothing can move, the block is deadlocked: reported with what each thread waits for.
// A fiber that finishes gives its stack back at once, so a kernel without barriers runs its threads one after
// another on one reused stack, at the cost of two context switches per thread.
#include "cuda_emu.h"
#include "emu_register.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdarg>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#define EMU_API extern "C" __attribute__((visibility("default")))

namespace cuda_emu
{
namespace
{
// ------------------------------------------------------------------------------------------------------------
// Kernel table
// ------------------------------------------------------------------------------------------------------------
std::vector<KernelEntry>& table()
{
    static std::vector<KernelEntry> t;
    return t;
}

std::string list_kernels()
{
    std::string s;
    for (const KernelEntry& e : table())
    {
        if (!s.empty()) s += ", ";
        s += std::string(e.family) + ".cu:" + e.name;
    }
    return s.empty() ? std::string("(none: kernels/ had no extern \"C\" __global__ functions when the library was built)") : s;
}

thread_local std::string last_error;

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

// ------------------------------------------------------------------------------------------------------------
// Fibers
// ------------------------------------------------------------------------------------------------------------
// A fiber stack: a kFiberStackBytes-aligned region (reserved with MAP_NORESERVE: only touched pages cost memory):
// [FiberHeader page][guard page, no access][stack, growing down from the region's end].
constexpr size_t kStackBytes = kFiberStackBytes;
constexpr size_t kHeaderBytes = 4096;
constexpr size_t kGuardBytes = 4096;

enum class State : unsigned char { NotStarted, Runnable, AtBarrier, AtWarp, Done };

struct Fiber
{
    ThreadContext ctx;
    State state;
    char* stack;
    struct Launch* launch;
#if defined(__x86_64__)
    void* sp;
    void** scheduler_sp;
#else
    ucontext_t uc;
    ucontext_t* scheduler_uc;
#endif
    // the pending warp operation
    WarpOp op;
    unsigned mask;
    int arg, width;
    unsigned long long value, result;
};

struct Launch
{
    const KernelEntry* kernel;
    void** args;
    dim3 grid, block;
    unsigned shared_bytes;
    unsigned long long block_count;
    std::atomic<unsigned long long> next_block{0};
    std::atomic<bool> failed{false};
    std::mutex error_mutex;
    std::string error;

    void fail(const std::string& message)
    {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!failed.exchange(true)) error = message;
    }
};

/// Per OS thread: stacks to reuse, the fibers of the running block, its dynamic shared memory.
struct Worker
{
    std::vector<char*> free_stacks;
    std::vector<Fiber> fibers;
    unsigned char* dynamic_shared = nullptr;
    size_t dynamic_shared_bytes = 0;

#if defined(__x86_64__)
    void* scheduler_sp = nullptr;
#else
    ucontext_t scheduler_uc;
#endif

    ~Worker()
    {
        for (char* s : free_stacks) munmap(s, kStackBytes);
        std::free(dynamic_shared);
    }

    char* take_stack()
    {
        if (!free_stacks.empty())
        {
            char* s = free_stacks.back();
            free_stacks.pop_back();
            return s;
        }
        // Map twice the size and trim to an aligned region (fiber_header() masks the stack pointer).
        void* p = mmap(nullptr, 2 * kStackBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (p == MAP_FAILED) return nullptr;
        uintptr_t start = reinterpret_cast<uintptr_t>(p), aligned = (start + kStackBytes - 1) & ~uintptr_t(kStackBytes - 1);
        if (aligned > start) munmap(p, aligned - start);
        if (aligned + kStackBytes < start + 2 * kStackBytes)
            munmap(reinterpret_cast<void*>(aligned + kStackBytes), start + 2 * kStackBytes - aligned - kStackBytes);
        char* region = reinterpret_cast<char*>(aligned);
        mprotect(region + kHeaderBytes, kGuardBytes, PROT_NONE);  // stack overflow faults instead of corrupting memory
        return region;
    }

    bool ensure_shared(size_t bytes)
    {
        if (bytes <= dynamic_shared_bytes) return true;
        std::free(dynamic_shared);
        size_t rounded = (bytes + 255) / 256 * 256;
        dynamic_shared = static_cast<unsigned char*>(std::aligned_alloc(256, rounded));
        dynamic_shared_bytes = dynamic_shared ? rounded : 0;
        return dynamic_shared != nullptr;
    }
};

thread_local Worker worker;
// Not inlined, so that g++ keeps the address in a register instead of recomputing it (__tls_get_addr) per use.
__attribute__((noinline)) Worker& this_worker() { return worker; }

Fiber* running_fiber() { return static_cast<Fiber*>(fiber_header()->fiber); }

#if defined(__x86_64__)
// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores the stack pointer
// in *save, switches to `to` and restores the same from there. (System V x86-64; no signal mask, so no syscall.)
extern "C" void cuda_emu_switch(void** save, void* to);
asm(R"(
    .text
    .p2align 4
    .globl cuda_emu_switch
    .hidden cuda_emu_switch
    .type cuda_emu_switch, @function
cuda_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size cuda_emu_switch, .-cuda_emu_switch
)");
#endif

[[noreturn]] void fiber_entry()
{
    Fiber* f = running_fiber();
    f->launch->kernel->invoke(f->launch->kernel->fn, f->launch->args);
    f->state = State::Done;
#if defined(__x86_64__)
    cuda_emu_switch(&f->sp, *f->scheduler_sp);
#else
    swapcontext(&f->uc, f->scheduler_uc);
#endif
    std::abort();  // a finished fiber is never resumed
}

void prepare(Fiber& f, BlockContext* block)
{
    auto* header = reinterpret_cast<FiberHeader*>(f.stack);
    header->thread = &f.ctx;
    header->block = block;
    header->fiber = &f;
    char* top = f.stack + kStackBytes;
#if defined(__x86_64__)
    // Frame popped by cuda_emu_switch: [mxcsr|fpucw][r15 r14 r13 r12 rbx rbp][return address = fiber_entry].
    // The return-address slot is 16-byte aligned, so fiber_entry starts with rsp = 8 mod 16, as after a call.
    auto* ret_slot = reinterpret_cast<void**>((reinterpret_cast<uintptr_t>(top) & ~uintptr_t(15)) - 16);
    ret_slot[0] = reinterpret_cast<void*>(&fiber_entry);
    for (int i = 1; i <= 6; i++) ret_slot[-i] = nullptr;
    auto* control = reinterpret_cast<uint32_t*>(ret_slot - 7);
    control[0] = 0x1f80;  // MXCSR: all exceptions masked, round to nearest, no FTZ/DAZ
    control[1] = 0x037f;  // x87 control word: default
    f.sp = ret_slot - 7;
#else
    getcontext(&f.uc);
    f.uc.uc_stack.ss_sp = f.stack + kHeaderBytes + kGuardBytes;
    f.uc.uc_stack.ss_size = kStackBytes - kHeaderBytes - kGuardBytes;
    f.uc.uc_link = nullptr;
    makecontext(&f.uc, reinterpret_cast<void (*)()>(&fiber_entry), 0);
#endif
    (void)top;
}

void resume(Fiber& f)
{
#if defined(__x86_64__)
    cuda_emu_switch(f.scheduler_sp, f.sp);
#else
    swapcontext(f.scheduler_uc, &f.uc);
#endif
}

/// Called on the fiber: records why it stops and returns to the scheduler.
void block_fiber(State why)
{
    Fiber* f = running_fiber();
    f->state = why;
#if defined(__x86_64__)
    cuda_emu_switch(&f->sp, *f->scheduler_sp);
#else
    swapcontext(&f->uc, f->scheduler_uc);
#endif
}

const char* op_name(WarpOp op)
{
    switch (op)
    {
    case WarpShflIdx: return "__shfl_sync";
    case WarpShflUp: return "__shfl_up_sync";
    case WarpShflDown: return "__shfl_down_sync";
    case WarpShflXor: return "__shfl_xor_sync";
    case WarpBallot: return "__ballot_sync";
    case WarpAll: return "__all_sync";
    case WarpAny: return "__any_sync";
    case WarpSync: return "__syncwarp";
    case WarpMatchAny: return "__match_any_sync";
    }
    return "?";
}

std::string thread_name(const Fiber& f)
{
    return format("thread (%u,%u,%u)", f.ctx.thread_idx.x, f.ctx.thread_idx.y, f.ctx.thread_idx.z);
}

/// Computes a warp operation for the lanes `group` (all waiting at the same op with the same mask).
void compute_warp_op(Fiber* warp, const unsigned* lanes, int count, unsigned present)
{
    const Fiber& first = warp[lanes[0]];
    unsigned long long vote = 0;
    bool all = true, any = false;
    for (int i = 0; i < count; i++)
    {
        const Fiber& f = warp[lanes[i]];
        if (f.value) vote |= 1ull << lanes[i], any = true;
        else all = false;
    }
    for (int i = 0; i < count; i++)
    {
        Fiber& f = warp[lanes[i]];
        unsigned lane = lanes[i];
        int width = f.width;
        unsigned seg_start = lane & ~unsigned(width - 1), seg_end = seg_start + unsigned(width);
        long src = lane;
        switch (first.op)
        {
        case WarpShflIdx: src = seg_start + (unsigned(f.arg) & unsigned(width - 1)); break;
        case WarpShflUp: src = long(lane) - f.arg; if (src < long(seg_start)) src = lane; break;
        case WarpShflDown: src = long(lane) + f.arg; if (src >= long(seg_end)) src = lane; break;
        case WarpShflXor: src = long(lane ^ unsigned(f.arg)); if (src >= long(seg_end)) src = lane; break;
        case WarpBallot: f.result = vote; continue;
        case WarpAll: f.result = all; continue;
        case WarpAny: f.result = any; continue;
        case WarpSync: f.result = 0; continue;
        case WarpMatchAny:
        {
            unsigned peers = 0;
            for (int j = 0; j < count; j++)
                if (warp[lanes[j]].value == f.value) peers |= 1u << lanes[j];
            f.result = peers;
            continue;
        }
        }
        // Reading a lane that does not take part is undefined on the GPU; here it yields the caller's own value.
        bool participates = src >= 0 && src < 32 && (present >> src & 1u);
        f.result = participates ? warp[src].value : f.value;
    }
    for (int i = 0; i < count; i++) warp[lanes[i]].state = State::Runnable;
}

/// Resolves the warp operations that can complete. Returns the number of lanes released, or -1 with `error` set.
int resolve_warps(std::vector<Fiber>& fibers, std::string& error)
{
    int released = 0;
    const size_t n = fibers.size();
    for (size_t base = 0; base < n; base += 32)
    {
        Fiber* warp = &fibers[base];
        const unsigned lanes_here = unsigned(std::min<size_t>(32, n - base));
        const unsigned exists = lanes_here == 32 ? 0xffffffffu : ((1u << lanes_here) - 1u);
        for (unsigned l = 0; l < lanes_here; l++)
        {
            Fiber& f = warp[l];
            if (f.state != State::AtWarp) continue;
            if (!(f.mask >> l & 1u))
            {
                error = format("%s called %s with mask 0x%08x that does not include its own lane %u", thread_name(f).c_str(),
                               op_name(f.op), f.mask, l);
                return -1;
            }
            if (f.width <= 0 || f.width > 32 || (f.width & (f.width - 1)) != 0)
            {
                error = format("%s called %s with width %d: it must be a power of 2 between 1 and 32", thread_name(f).c_str(),
                               op_name(f.op), f.width);
                return -1;
            }
            const unsigned participants = f.mask & exists;
            unsigned lanes[32];
            int count = 0;
            bool ready = true;
            for (unsigned k = 0; k < 32; k++)
            {
                if (!(participants >> k & 1u)) continue;
                Fiber& g = warp[k];
                if (g.state == State::Done)
                {
                    error = format("%s called %s with mask 0x%08x, but lane %u of that mask (%s) has exited: it can never take part",
                                   thread_name(f).c_str(), op_name(f.op), f.mask, k, thread_name(g).c_str());
                    return -1;
                }
                if (g.state != State::AtWarp) { ready = false; continue; }
                if (g.op != f.op || g.mask != f.mask)
                {
                    error = format("warp divergence the emulator cannot match: %s waits in %s(mask 0x%08x) while %s waits in %s(mask 0x%08x)",
                                   thread_name(f).c_str(), op_name(f.op), f.mask, thread_name(g).c_str(), op_name(g.op), g.mask);
                    return -1;
                }
                lanes[count++] = k;
            }
            if (!ready) continue;
            compute_warp_op(warp, lanes, count, participants);
            released += count;
        }
    }
    return released;
}

/// Runs one block to completion. Returns an empty string, or what went wrong.
std::string run_block(Launch& L, unsigned long long linear)
{
    Worker& worker = this_worker();  // one TLS look-up per block, not per thread
    BlockContext bc;
    bc.grid_dim = L.grid;
    bc.block_dim = L.block;
    bc.block_idx.x = unsigned(linear % L.grid.x);
    bc.block_idx.y = unsigned(linear / L.grid.x % L.grid.y);
    bc.block_idx.z = unsigned(linear / (unsigned long long)(L.grid.x * (unsigned long long)L.grid.y));
    if (L.shared_bytes > 0 && !worker.ensure_shared(L.shared_bytes))
        return format("cannot allocate %u bytes of dynamic shared memory", L.shared_bytes);
    bc.dynamic_shared = L.shared_bytes > 0 ? worker.dynamic_shared : nullptr;

    const unsigned n = L.block.x * L.block.y * L.block.z;
    std::vector<Fiber>& fibers = worker.fibers;
    fibers.resize(n);
    uint3 tid = {0, 0, 0};  // x fastest, then y, then z (no divisions per thread)
    for (unsigned i = 0; i < n; i++)
    {
        Fiber& f = fibers[i];
        f.ctx.thread_idx = tid;
        if (++tid.x == L.block.x)
        {
            tid.x = 0;
            if (++tid.y == L.block.y) tid.y = 0, tid.z++;
        }
        f.ctx.lane = i % 32;
        f.state = State::NotStarted;
        f.stack = nullptr;
        f.launch = &L;
#if defined(__x86_64__)
        f.scheduler_sp = &worker.scheduler_sp;
#else
        f.scheduler_uc = &worker.scheduler_uc;
#endif
    }

    std::string error;
    for (;;)
    {
        for (unsigned i = 0; i < n; i++)
        {
            Fiber& f = fibers[i];
            if (f.state == State::NotStarted)
            {
                f.stack = worker.take_stack();
                if (f.stack == nullptr) { error = "cannot allocate a fiber stack (mmap failed)"; break; }
                prepare(f, &bc);
                f.state = State::Runnable;
            }
            if (f.state != State::Runnable) continue;
            resume(f);
            if (f.state == State::Done)
            {
                worker.free_stacks.push_back(f.stack);
                f.stack = nullptr;
            }
        }
        if (!error.empty()) break;

        int released = resolve_warps(fibers, error);
        if (released < 0) break;
        if (released > 0) continue;

        unsigned at_barrier = 0, done = 0, at_warp = 0;
        const Fiber* first_done = nullptr;
        const Fiber* first_warp = nullptr;
        for (const Fiber& f : fibers)
        {
            if (f.state == State::AtBarrier) at_barrier++;
            else if (f.state == State::Done) { done++; if (!first_done) first_done = &f; }
            else if (f.state == State::AtWarp) { at_warp++; if (!first_warp) first_warp = &f; }
        }
        if (done == n) break;
        if (at_barrier + done == n)
        {
            if (done > 0)
            {
                error = format("deadlock: __syncthreads was reached by %u of the block's %u threads, and the other %u have "
                               "exited (first: %s), so the barrier can never complete. Do not return before a "
                               "__syncthreads: keep every thread of the block going to the barrier (guard the work, not the barrier).",
                               at_barrier, n, done, thread_name(*first_done).c_str());
                break;
            }
            for (Fiber& f : fibers) f.state = State::Runnable;
            continue;
        }
        error = format("deadlock: %u threads wait at __syncthreads, %u wait in warp operations (first: %s in %s with mask 0x%08x), "
                       "%u have exited; no thread can proceed. A warp operation's mask names lanes that are waiting at "
                       "__syncthreads instead?",
                       at_barrier, at_warp, first_warp ? thread_name(*first_warp).c_str() : "-",
                       first_warp ? op_name(first_warp->op) : "-", first_warp ? first_warp->mask : 0u, done);
        break;
    }
    // On error, abandon suspended fibers: their stacks are reused as they are (kernels own no resources).
    for (Fiber& f : fibers)
        if (f.stack) { worker.free_stacks.push_back(f.stack); f.stack = nullptr; }
    if (!error.empty())
        error = format("block (%u,%u,%u): ", bc.block_idx.x, bc.block_idx.y, bc.block_idx.z) + error;
    return error;
}

void run_blocks(Launch& L)
{
    while (!L.failed.load(std::memory_order_relaxed))
    {
        unsigned long long b = L.next_block.fetch_add(1);
        if (b >= L.block_count) break;
        std::string e = run_block(L, b);
        if (!e.empty()) L.fail(e);
    }
}

// ------------------------------------------------------------------------------------------------------------
// Pool of OS threads
// ------------------------------------------------------------------------------------------------------------
class Pool
{
public:
    explicit Pool(int threads)
    {
        for (int i = 0; i < threads; i++) workers_.emplace_back([this] { loop(); });
    }
    ~Pool()
    {
        {
            std::lock_guard<std::mutex> lock(m_);
            stop_ = true;
        }
        work_.notify_all();
        for (std::thread& t : workers_) t.join();
    }
    int size() const { return int(workers_.size()); }

    void run(Launch& L)
    {
        std::unique_lock<std::mutex> lock(m_);
        job_ = &L;
        busy_ = int(workers_.size());
        generation_++;
        work_.notify_all();
        done_.wait(lock, [this] { return busy_ == 0; });
        job_ = nullptr;
    }

private:
    void loop()
    {
        unsigned long long seen = 0;
        std::unique_lock<std::mutex> lock(m_);
        for (;;)
        {
            work_.wait(lock, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            Launch* L = job_;
            lock.unlock();
            run_blocks(*L);
            lock.lock();
            if (--busy_ == 0) done_.notify_all();
        }
    }

    std::vector<std::thread> workers_;
    std::mutex m_;
    std::condition_variable work_, done_;
    Launch* job_ = nullptr;
    unsigned long long generation_ = 0;
    int busy_ = 0;
    bool stop_ = false;
};

std::mutex launch_mutex;  // one launch at a time (the emulated device has one stream)
Pool* pool = nullptr;
int pool_threads = 0;

int default_threads()
{
    if (const char* env = std::getenv("CUDAADAM_EMU_THREADS"))
    {
        int n = std::atoi(env);
        if (n >= 1 && n <= 1024) return n;
        std::fprintf(stderr, "cuda_emu: ignoring CUDAADAM_EMU_THREADS=%s (want an integer from 1 to 1024)\n", env);
    }
    unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : int(hc);
}
} // namespace

void register_kernels(const KernelEntry* entries, int count)
{
    for (int i = 0; i < count; i++) table().push_back(entries[i]);
}

unsigned long long warp_op(WarpOp op, unsigned mask, unsigned long long value, int arg, int width)
{
    Fiber* f = running_fiber();
    f->op = op;
    f->mask = mask;
    f->value = value;
    f->arg = arg;
    f->width = width;
    block_fiber(State::AtWarp);
    return f->result;
}

void sync_threads() { block_fiber(State::AtBarrier); }

unsigned active_mask()
{
    // The lanes of the caller's warp that have not exited (the emulator runs no lane ahead of a convergence point).
    const std::vector<Fiber>& fibers = worker.fibers;
    size_t self = size_t(running_fiber() - fibers.data()), base = self / 32 * 32;
    unsigned m = 0;
    for (size_t k = base; k < std::min(base + 32, fibers.size()); k++)
        if (fibers[k].state != State::Done) m |= 1u << (k - base);
    return m;
}
} // namespace cuda_emu

using namespace cuda_emu;

/// The kernel `name` of kernels/<family>.cu, or null (then emu_last_error lists the kernels that exist).
EMU_API const void* emu_find_kernel(const char* family, const char* name)
{
    for (const KernelEntry& e : table())
        if (std::strcmp(e.family, family) == 0 && std::strcmp(e.name, name) == 0) return &e;
    last_error = format("no kernel %s in kernels/%s.cu of the emulator library; it has: ", name, family) + list_kernels() +
                 ". (A kernel added after the library was built needs ./build.sh build, which re-runs make -C native/emu.)";
    return nullptr;
}

/// Number of parameters of a kernel found by emu_find_kernel.
EMU_API int emu_kernel_arity(const void* kernel) { return static_cast<const KernelEntry*>(kernel)->arity; }

/// "family.cu:name, ..." of every kernel in the library.
EMU_API const char* emu_list_kernels()
{
    static thread_local std::string s;
    s = list_kernels();
    return s.c_str();
}

/// Runs the kernel to completion. Returns 0, or 1 with emu_last_error saying what went wrong.
EMU_API int emu_launch(const void* kernel, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned shared_bytes, void** args, int arg_count)
{
    if (kernel == nullptr) { last_error = "emu_launch: null kernel handle"; return 1; }
    const KernelEntry* k = static_cast<const KernelEntry*>(kernel);
    const unsigned long long threads = (unsigned long long)bx * by * bz;
    const unsigned long long blocks = (unsigned long long)gx * gy * gz;
    if (blocks == 0 || threads == 0)
    {
        last_error = format("launch of %s.cu:%s with grid (%u,%u,%u) and block (%u,%u,%u): every dimension must be at least 1",
                            k->family, k->name, gx, gy, gz, bx, by, bz);
        return 1;
    }
    if (threads > 1024 || bz > 64 || gy > 65535 || gz > 65535 || gx > 2147483647u)
    {
        last_error = format("launch of %s.cu:%s with grid (%u,%u,%u) and block (%u,%u,%u): a block has at most 1024 threads "
                            "(z at most 64), grid y and z at most 65535, grid x at most 2^31-1",
                            k->family, k->name, gx, gy, gz, bx, by, bz);
        return 1;
    }
    if (shared_bytes > 227u * 1024u)
    {
        last_error = format("launch of %s.cu:%s with %u bytes of dynamic shared memory: at most 232448 (227 KiB, the H100's limit)",
                            k->family, k->name, shared_bytes);
        return 1;
    }
    if (arg_count != k->arity)
    {
        last_error = format("launch of %s.cu:%s with %d arguments: the kernel takes %d", k->family, k->name, arg_count, k->arity);
        return 1;
    }

    std::lock_guard<std::mutex> guard(launch_mutex);
    Launch L;
    L.kernel = k;
    L.args = args;
    L.grid = dim3(gx, gy, gz);
    L.block = dim3(bx, by, bz);
    L.shared_bytes = shared_bytes;
    L.block_count = blocks;
    if (pool == nullptr && pool_threads == 0) pool_threads = default_threads();
    if (blocks == 1 || pool_threads == 1)
    {
        run_blocks(L);  // on the calling thread: no hand-off for small launches
    }
    else
    {
        if (pool == nullptr) pool = new Pool(pool_threads);
        pool->run(L);
    }
    if (L.failed)
    {
        last_error = format("kernel %s.cu:%s, grid (%u,%u,%u), block (%u,%u,%u): ", k->family, k->name, gx, gy, gz, bx, by, bz) + L.error;
        return 1;
    }
    return 0;
}

/// The message of the last failed call on this thread.
EMU_API const char* emu_last_error() { return last_error.c_str(); }

/// Sets the number of OS threads that run blocks (1 to 1024; 0: CUDAADAM_EMU_THREADS or the number of cores).
EMU_API int emu_set_threads(int threads)
{
    if (threads < 0 || threads > 1024)
    {
        last_error = format("emu_set_threads(%d): want 0 (default) or 1 to 1024", threads);
        return 1;
    }
    std::lock_guard<std::mutex> guard(launch_mutex);
    delete pool;
    pool = nullptr;
    pool_threads = threads == 0 ? default_threads() : threads;
    return 0;
}

/// The number of OS threads that run blocks.
EMU_API int emu_get_threads()
{
    std::lock_guard<std::mutex> guard(launch_mutex);
    if (pool_threads == 0) pool_threads = default_threads();
    return pool_threads;
}

/// Test hook for cuda_emu.h's conversions: kind 0: float → bf16 (__float2bfloat16_rn), 1: float → fp16
/// (__float2half_rn); the 16-bit patterns go to `out`, and their values converted back to float to `back`.
EMU_API int emu_convert_floats(int kind, const float* in, unsigned short* out, float* back, long long n)
{
    if (kind != 0 && kind != 1) { last_error = format("emu_convert_floats: kind %d, want 0 (bf16) or 1 (fp16)", kind); return 1; }
    for (long long i = 0; i < n; i++)
    {
        if (kind == 0)
        {
            __nv_bfloat16 b = __float2bfloat16_rn(in[i]);
            out[i] = __bfloat16_as_ushort(b);
            back[i] = __bfloat162float(b);
        }
        else
        {
            __half h = __float2half_rn(in[i]);
            out[i] = __half_as_ushort(h);
            back[i] = __half2float(h);
        }
    }
    return 0;
}
