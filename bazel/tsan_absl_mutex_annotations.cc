// Linked into every binary of --config=tsan (.bazelrc, docs/BUILD.md "Sanitizers").
//
// Debian's Abseil is not built with ThreadSanitizer, so absl::Mutex's lock and unlock (atomics and
// futexes inside libabsl_synchronization) create no happens-before edge that TSan can see, and
// every access our code makes under an absl::Mutex would be reported as a race. This file
// interposes the exported entry points of absl::Mutex, absl::CondVar, absl::BlockingCounter and
// absl::Notification (an executable's definitions take precedence over a shared library's in ELF
// symbol lookup), calls the library's own implementation through dlsym(RTLD_NEXT) and tells TSan
// what the call did: __tsan_acquire(object) after the mutex is obtained or the wait is over,
// __tsan_release(object) before the mutex is given up or the event is signalled (the annotations
// of <sanitizer/tsan_interface.h>). A Condition is evaluated by the library while it holds the
// mutex, so it is wrapped to acquire before and release after. The synchronization itself is the
// library's, unchanged.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace {

// The library's definition of `mangled_name`; aborts when it is missing (a different Abseil ABI
// than the one this file names).
void* Real(const char* mangled_name) {
  void* real = dlsym(RTLD_NEXT, mangled_name);
  if (real == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex_annotations: %s not found\n", mangled_name);
    std::abort();
  }
  return real;
}

// `condition` evaluated after acquiring `mutex` (the library holds it while evaluating).
struct AnnotatedCondition {
  const absl::Condition* condition;
  void* mutex;
};

// The library evaluates a condition with the mutex held, in the waiting thread or in whichever
// thread is unlocking: the evaluation is ordered after the last release and before the next
// acquisition, like any other critical section.
bool EvaluateAfterAcquire(void* argument) {
  auto* annotated = static_cast<AnnotatedCondition*>(argument);
  __tsan_acquire(annotated->mutex);
  const bool result = annotated->condition->Eval();
  __tsan_release(annotated->mutex);
  return result;
}

}  // namespace

// The options of every TSan process, children of tests included (TSAN_OPTIONS may add to them):
// stop at the first report and exit with 66, which ChildProcess and scripts/test.sh recognise.
extern "C" const char* __tsan_default_options() {
  return "halt_on_error=1:exitcode=66:second_deadlock_stack=1";
}

namespace {

using Method = void (*)(void*);
using TryMethod = bool (*)(void*);
using ConditionMethod = void (*)(void*, const absl::Condition&);
using ConditionTimeoutMethod = bool (*)(void*, const absl::Condition&, absl::Duration);
using ConditionDeadlineMethod = bool (*)(void*, const absl::Condition&, absl::Time);
using WaitMethod = void (*)(void*, void*);
using WaitTimeoutMethod = bool (*)(void*, void*, absl::Duration);
using WaitDeadlineMethod = bool (*)(void*, void*, absl::Time);

}  // namespace

// The mangled names of absl::debian3::Mutex and absl::debian3::CondVar members (Debian 12's
// libabsl 20220623, `nm -D libabsl_synchronization.so`).
#define MECAI_LOCK(name, mangled)                                      \
  extern "C" void mangled(void* mutex) {                               \
    static const auto real = reinterpret_cast<Method>(Real(#mangled)); \
    real(mutex);                                                       \
    __tsan_acquire(mutex);                                             \
  }
#define MECAI_UNLOCK(name, mangled)                                    \
  extern "C" void mangled(void* mutex) {                               \
    static const auto real = reinterpret_cast<Method>(Real(#mangled)); \
    __tsan_release(mutex);                                             \
    real(mutex);                                                       \
  }
#define MECAI_TRY_LOCK(name, mangled)                                     \
  extern "C" bool mangled(void* mutex) {                                  \
    static const auto real = reinterpret_cast<TryMethod>(Real(#mangled)); \
    const bool locked = real(mutex);                                      \
    if (locked) __tsan_acquire(mutex);                                    \
    return locked;                                                        \
  }
// LockWhen: nothing held before; held afterwards.
#define MECAI_LOCK_WHEN(name, mangled)                                          \
  extern "C" void mangled(void* mutex, const absl::Condition& condition) {      \
    static const auto real = reinterpret_cast<ConditionMethod>(Real(#mangled)); \
    AnnotatedCondition annotated{&condition, mutex};                            \
    real(mutex, absl::Condition(&EvaluateAfterAcquire, &annotated));            \
    __tsan_acquire(mutex);                                                      \
  }
#define MECAI_LOCK_WHEN_WITH(name, mangled, Method, Bound)                                      \
  extern "C" bool mangled(void* mutex, const absl::Condition& condition, Bound bound) {         \
    static const auto real = reinterpret_cast<Method>(Real(#mangled));                          \
    AnnotatedCondition annotated{&condition, mutex};                                            \
    const bool result = real(mutex, absl::Condition(&EvaluateAfterAcquire, &annotated), bound); \
    __tsan_acquire(mutex);                                                                      \
    return result;                                                                              \
  }
// Await: held before and afterwards, possibly released in between.
#define MECAI_AWAIT(name, mangled)                                              \
  extern "C" void mangled(void* mutex, const absl::Condition& condition) {      \
    static const auto real = reinterpret_cast<ConditionMethod>(Real(#mangled)); \
    AnnotatedCondition annotated{&condition, mutex};                            \
    __tsan_release(mutex);                                                      \
    real(mutex, absl::Condition(&EvaluateAfterAcquire, &annotated));            \
    __tsan_acquire(mutex);                                                      \
  }
#define MECAI_AWAIT_WITH(name, mangled, Method, Bound)                                          \
  extern "C" bool mangled(void* mutex, const absl::Condition& condition, Bound bound) {         \
    static const auto real = reinterpret_cast<Method>(Real(#mangled));                          \
    AnnotatedCondition annotated{&condition, mutex};                                            \
    __tsan_release(mutex);                                                                      \
    const bool result = real(mutex, absl::Condition(&EvaluateAfterAcquire, &annotated), bound); \
    __tsan_acquire(mutex);                                                                      \
    return result;                                                                              \
  }

MECAI_LOCK(Mutex::Lock, _ZN4absl7debian35Mutex4LockEv)
MECAI_LOCK(Mutex::ReaderLock, _ZN4absl7debian35Mutex10ReaderLockEv)
MECAI_UNLOCK(Mutex::Unlock, _ZN4absl7debian35Mutex6UnlockEv)
MECAI_UNLOCK(Mutex::ReaderUnlock, _ZN4absl7debian35Mutex12ReaderUnlockEv)
MECAI_TRY_LOCK(Mutex::TryLock, _ZN4absl7debian35Mutex7TryLockEv)
MECAI_TRY_LOCK(Mutex::ReaderTryLock, _ZN4absl7debian35Mutex13ReaderTryLockEv)
MECAI_LOCK_WHEN(Mutex::LockWhen, _ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE)
MECAI_LOCK_WHEN(Mutex::ReaderLockWhen, _ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE)
MECAI_LOCK_WHEN_WITH(Mutex::LockWhenWithTimeout,
                     _ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE,
                     ConditionTimeoutMethod, absl::Duration)
MECAI_LOCK_WHEN_WITH(Mutex::LockWhenWithDeadline,
                     _ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE,
                     ConditionDeadlineMethod, absl::Time)
MECAI_LOCK_WHEN_WITH(
    Mutex::ReaderLockWhenWithTimeout,
    _ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE,
    ConditionTimeoutMethod, absl::Duration)
MECAI_LOCK_WHEN_WITH(Mutex::ReaderLockWhenWithDeadline,
                     _ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE,
                     ConditionDeadlineMethod, absl::Time)
MECAI_AWAIT(Mutex::Await, _ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE)
MECAI_AWAIT_WITH(Mutex::AwaitWithTimeout,
                 _ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE,
                 ConditionTimeoutMethod, absl::Duration)
MECAI_AWAIT_WITH(Mutex::AwaitWithDeadline,
                 _ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE,
                 ConditionDeadlineMethod, absl::Time)

// CondVar::Wait(mutex): `mutex` is released while waiting and held again on return.
extern "C" void _ZN4absl7debian37CondVar4WaitEPNS0_5MutexE(void* condvar, void* mutex) {
  static const auto real =
      reinterpret_cast<WaitMethod>(Real("_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE"));
  __tsan_release(mutex);
  real(condvar, mutex);
  __tsan_acquire(mutex);
}

extern "C" bool _ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE(
    void* condvar, void* mutex, absl::Duration timeout) {
  static const auto real = reinterpret_cast<WaitTimeoutMethod>(
      Real("_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE"));
  __tsan_release(mutex);
  const bool result = real(condvar, mutex, timeout);
  __tsan_acquire(mutex);
  return result;
}

extern "C" bool _ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE(
    void* condvar, void* mutex, absl::Time deadline) {
  static const auto real = reinterpret_cast<WaitDeadlineMethod>(
      Real("_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE"));
  __tsan_release(mutex);
  const bool result = real(condvar, mutex, deadline);
  __tsan_acquire(mutex);
  return result;
}

// absl::BlockingCounter counts down with an atomic inside the library: each DecrementCount is
// ordered before Wait's return.
extern "C" bool _ZN4absl7debian315BlockingCounter14DecrementCountEv(void* counter) {
  static const auto real =
      reinterpret_cast<TryMethod>(Real("_ZN4absl7debian315BlockingCounter14DecrementCountEv"));
  __tsan_release(counter);
  return real(counter);
}

extern "C" void _ZN4absl7debian315BlockingCounter4WaitEv(void* counter) {
  static const auto real =
      reinterpret_cast<Method>(Real("_ZN4absl7debian315BlockingCounter4WaitEv"));
  real(counter);
  __tsan_acquire(counter);
}

// absl::Notification: Notify is ordered before every wait that sees it.
extern "C" void _ZN4absl7debian312Notification6NotifyEv(void* notification) {
  static const auto real =
      reinterpret_cast<Method>(Real("_ZN4absl7debian312Notification6NotifyEv"));
  __tsan_release(notification);
  real(notification);
}

extern "C" void _ZNK4absl7debian312Notification19WaitForNotificationEv(void* notification) {
  static const auto real =
      reinterpret_cast<Method>(Real("_ZNK4absl7debian312Notification19WaitForNotificationEv"));
  real(notification);
  __tsan_acquire(notification);
}

extern "C" bool _ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE(
    void* notification, absl::Duration timeout) {
  static const auto real = reinterpret_cast<bool (*)(void*, absl::Duration)>(
      Real("_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE"));
  const bool notified = real(notification, timeout);
  if (notified) __tsan_acquire(notification);
  return notified;
}

extern "C" bool _ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE(
    void* notification, absl::Time deadline) {
  static const auto real = reinterpret_cast<bool (*)(void*, absl::Time)>(
      Real("_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE"));
  const bool notified = real(notification, deadline);
  if (notified) __tsan_acquire(notification);
  return notified;
}
