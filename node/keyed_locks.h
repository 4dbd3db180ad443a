// Mutual exclusion by name, across threads: at most one holder per key at a time. The node's
// transfers take the lock of their job key, so a transfer replaced after a kill (or started by
// a respawned pull queue) waits until the cancelled one has really stopped: one image is never
// fetched by two transfers of one node at once. Thread-safe; shared by every transfer thread.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>

namespace pullfleet::node {

class KeyedLocks {
 public:
  // Holds the lock of one key until destroyed.
  class Guard {
   public:
    Guard(KeyedLocks* locks, std::string key) : locks_(locks), key_(std::move(key)) {}
    ~Guard() { locks_->Release(key_); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    KeyedLocks* locks_;
    std::string key_;
  };

  // Blocks while another holder has `key`; sets *waited when it had to wait.
  Guard Acquire(const std::string& key, bool* waited = nullptr) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (waited != nullptr) *waited = held_.count(key) > 0;
    released_.wait(lock, [&] { return held_.count(key) == 0; });
    held_.insert(key);
    return Guard(this, key);
  }

 private:
  void Release(const std::string& key) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      held_.erase(key);
    }
    released_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable released_;
  std::set<std::string> held_;
};

}  // namespace pullfleet::node
