-- End-to-end: headless Neovim (its built-in LSP client) against `polc lsp`.
-- Opens POL_FILE, waits for diagnostics, asks hover and definition at the positions given,
-- writes what it received as JSON to OUT, and quits.
local polc = os.getenv("POLC")
local file = os.getenv("POL_FILE")
local out = os.getenv("OUT")
local hover_line, hover_col = tonumber(os.getenv("HOVER_LINE")), tonumber(os.getenv("HOVER_COL"))
local def_line, def_col = tonumber(os.getenv("DEF_LINE")), tonumber(os.getenv("DEF_COL"))

vim.cmd("edit " .. file)
local buf = vim.api.nvim_get_current_buf()
local uri = vim.uri_from_bufnr(buf)
local received = nil
local client_id = vim.lsp.start_client({
  name = "polc",
  cmd = { polc, "lsp" },
  root_dir = vim.fn.fnamemodify(file, ":p:h"),
  handlers = {
    ["textDocument/publishDiagnostics"] = function(_, result)
      if result.uri == uri and #result.diagnostics > 0 then
        received = result.diagnostics
      end
    end,
  },
})
vim.lsp.buf_attach_client(buf, client_id)
vim.wait(20000, function() return received ~= nil end, 50)

local function ask(method, line, col)
  local params = { textDocument = { uri = uri }, position = { line = line, character = col } }
  local res = vim.lsp.buf_request_sync(buf, method, params, 20000)
  if not res then return vim.NIL end
  for _, r in pairs(res) do
    if r.result then return r.result end
  end
  return vim.NIL
end

local result = {
  diagnostics = received or vim.NIL,
  hover = ask("textDocument/hover", hover_line, hover_col),
  definition = ask("textDocument/definition", def_line, def_col),
}
local f = io.open(out, "w")
f:write(vim.fn.json_encode(result))
f:close()
vim.lsp.stop_client(client_id)
vim.cmd("qa!")
