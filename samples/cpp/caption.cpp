// Captions an image through libpixelllm from C++ (include/pixelllm.hpp), printing the request's events to stderr as
// they come and the answer line to stdout:
//   caption MODEL_DIR IMAGE
// Build: c++ -std=c++17 samples/cpp/caption.cpp -IDIR -LDIR -lpixelllm -Wl,-rpath,DIR -o caption   (DIR: the published library)
#include <iostream>
#include <string>

#include "pixelllm.hpp"

// A file path as a JSON string.
static std::string json_string(const std::string &text)
{
    std::string quoted = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') quoted += '\\';
        quoted += c;
    }
    return quoted + "\"";
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " MODEL_DIR IMAGE\n";
        return 2;
    }
    try {
        pixelllm::model model(argv[1]);
        std::string request = R"({"task": "caption", "beams": 1, "image": )" + json_string(argv[2]) + "}";
        std::string answer = model.request(request, [](const char *event_json) {
            std::cerr << event_json << '\n';
            return false;
        });
        std::cout << answer << '\n';
        return answer.find("\"ok\":true") != std::string::npos ? 0 : 1;
    } catch (const pixelllm::open_error &e) {
        std::cerr << "error: " << e.what() << '\n';
        return 2;
    }
}
