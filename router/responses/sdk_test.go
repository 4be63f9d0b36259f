package responses_test

import (
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// openai-go's Responses client, JSON and streamed, through translation on every chat-only
// route: a function-call round trip, usage, and the streamed text matching the final response.
func TestOpenAIGoThroughTranslation(t *testing.T) {
	for name, p := range chatClouds(t) {
		t.Run(name, func(t *testing.T) {
			c := openai.NewClient(option.WithBaseURL(serve(t, p)+"/v1"), option.WithAPIKey("sk-any"), option.WithMaxRetries(0))
			ctx := t.Context()
			tools := []responses.ToolUnionParam{responses.ToolParamOfFunction("exec_command",
				map[string]any{"type": "object", "properties": map[string]any{"cmd": map[string]any{"type": "string"}}}, false)}
			prompt := `[[call exec_command {"cmd":"echo hi"}]]`
			res, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-oss-120b", Tools: tools,
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(prompt)}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Output) != 1 {
				t.Fatalf("output %s", res.RawJSON())
			}
			call := res.Output[0].AsFunctionCall()
			if call.Type != "function_call" || call.Name != "exec_command" || call.Arguments != `{"cmd":"echo hi"}` || call.CallID == "" ||
				res.Status != "completed" || res.Usage.TotalTokens == 0 || res.Usage.InputTokens == 0 {
				t.Fatalf("response %s", res.RawJSON())
			}
			out := responses.ResponseInputItemParamOfFunctionCallOutput("hi")
			out.OfFunctionCallOutput.CallID = openai.String(call.CallID)
			history := responses.ResponseInputParam{
				responses.ResponseInputItemParamOfMessage(prompt, responses.EasyInputMessageRoleUser),
				responses.ResponseInputItemParamOfFunctionCall(call.Arguments, call.CallID, call.Name),
				out,
			}
			res, err = c.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt-oss-120b", Tools: tools,
				Input: responses.ResponseNewParamsInputUnion{OfInputItemList: history}})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.OutputText(); got != "Tool exec_command returned: hi" {
				t.Fatalf("text %q in %s", got, res.RawJSON())
			}

			st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gpt-oss-120b",
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("stream me")}})
			var deltas string
			var final *responses.Response
			for st.Next() {
				switch ev := st.Current(); ev.Type {
				case "response.output_text.delta":
					deltas += ev.Delta
				case "response.completed":
					r := ev.AsResponseCompleted().Response
					final = &r
				}
			}
			if err := st.Err(); err != nil {
				t.Fatal(err)
			}
			if final == nil || final.OutputText() != deltas || deltas == "" || final.Usage.OutputTokens == 0 {
				t.Fatalf("deltas %q final %+v", deltas, final)
			}
		})
	}
}
