// libpixelllm for C++17: pixelllm.h behind a move-only RAII model. Header-only; link -lpixelllm as for C.
//
//   pixelllm::model model("models/default", R"({"backend": "cuda"})");           // throws pixelllm::open_error
//   std::string answer = model.request(R"({"task": "caption", "image": "photo.png"})");
//   model.request(line, [](const char *event_json) { std::puts(event_json); return false; });  // true cancels
//
// Answers are the serve protocol's lines (README): parse them with the JSON library you already use. A request that
// fails is an answer with "ok": false, not an exception; exceptions are open_error, std::bad_alloc when the library had
// no memory for an answer, and whatever an event handler threw (rethrown once the request has stopped).
#ifndef PIXELLLM_HPP
#define PIXELLLM_HPP

#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "pixelllm.h"

namespace pixelllm {

// pixelllm_open failed: what() is the library's one line naming the cause.
class open_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Called as each stage begins and each token is final (see pixelllm_event_fn); return true to cancel the request.
using event_handler = std::function<bool(const char *event_json)>;

class model {
public:
    explicit model(const std::string &directory, const std::string &options_json = "")
    {
        char *error = nullptr;
        handle_ = pixelllm_open(directory.c_str(), options_json.empty() ? nullptr : options_json.c_str(), &error);
        if (handle_ == nullptr) {
            std::string message = error != nullptr ? error : "out of memory";
            pixelllm_free(error);
            throw open_error(message);
        }
    }

    ~model() { close(); }
    model(model &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    model &operator=(model &&other) noexcept
    {
        if (this != &other) {
            close();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    model(const model &) = delete;
    model &operator=(const model &) = delete;

    // One request line → its answer line. Thread-safe.
    std::string request(const std::string &request_json) const
    {
        return take(pixelllm_request(handle_, request_json.c_str()));
    }

    // The same, reporting progress to on_event.
    std::string request(const std::string &request_json, const event_handler &on_event) const
    {
        events state{&on_event, nullptr};
        auto answer = take(pixelllm_request_events(handle_, request_json.c_str(), &forward, &state));
        if (state.error) std::rethrow_exception(state.error);
        return answer;
    }

    // A request on decoded pixels: height rows of width RGB pixels, stride_bytes apart (0: packed).
    std::string request_rgb(const std::string &request_json, const unsigned char *rgb, int width, int height,
                            int stride_bytes = 0, const event_handler &on_event = nullptr) const
    {
        events state{&on_event, nullptr};
        auto answer = take(pixelllm_request_rgb(handle_, request_json.c_str(), rgb, width, height, stride_bytes,
                                                on_event ? &forward : nullptr, &state));
        if (state.error) std::rethrow_exception(state.error);
        return answer;
    }

    static const char *version() noexcept { return pixelllm_version(); }

private:
    struct events {
        const event_handler *handler;
        std::exception_ptr error;
    };

    struct text_deleter {
        void operator()(char *text) const noexcept { pixelllm_free(text); }
    };

    static std::string take(char *text)
    {
        if (text == nullptr) throw std::bad_alloc();
        std::unique_ptr<char, text_deleter> owned(text);
        return std::string(owned.get());
    }

    // An exception must not unwind through the library's frames: it is kept, the request cancelled, then rethrown.
    static int forward(const char *event_json, void *user_data) noexcept
    {
        auto *state = static_cast<events *>(user_data);
        try {
            return (*state->handler)(event_json) ? 1 : 0;
        } catch (...) {
            state->error = std::current_exception();
            return 1;
        }
    }

    void close() noexcept
    {
        if (handle_ != nullptr) pixelllm_close(handle_);
        handle_ = nullptr;
    }

    pixelllm_model *handle_ = nullptr;
};

} // namespace pixelllm

#endif // PIXELLLM_HPP
