package adminapi

import (
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/domain"
	"gatehouse/usecase"
)

// userResource is a user as the API shows it: the names of `users show --json`.
type userResource struct {
	ID                  string    `json:"id"`
	Username            string    `json:"username"`
	Email               string    `json:"email"`
	EmailVerified       bool      `json:"email_verified"`
	Name                string    `json:"name"`
	GivenName           string    `json:"given_name,omitempty"`
	FamilyName          string    `json:"family_name,omitempty"`
	Picture             string    `json:"picture,omitempty"`
	Locale              string    `json:"locale,omitempty"`
	Zoneinfo            string    `json:"zoneinfo,omitempty"`
	PhoneNumber         string    `json:"phone_number,omitempty"`
	PhoneNumberVerified bool      `json:"phone_number_verified"`
	Groups              []string  `json:"groups"`
	Disabled            bool      `json:"disabled"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

func toUser(u domain.User) userResource {
	return userResource{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name,
		GivenName: u.GivenName, FamilyName: u.FamilyName, Picture: u.Picture, Locale: u.Locale, Zoneinfo: u.Zoneinfo,
		PhoneNumber: u.PhoneNumber, PhoneNumberVerified: u.PhoneNumberVerified, Groups: nonNil(u.Groups),
		Disabled: u.Disabled, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

func (a *API) listUsers(c echo.Context) error {
	after, limit, ok, err := listParams(c, listUsers)
	if !ok {
		return err
	}
	q := usecase.UserFilter{Q: c.QueryParam("q"), Group: c.QueryParam("group"), After: after, Limit: limit}
	switch d := c.QueryParam("disabled"); d {
	case "":
	case "true", "false":
		v := d == "true"
		q.Disabled = &v
	default:
		return badRequest(c, "disabled must be true or false", fieldIssue{Field: "disabled", Message: "must be true or false"})
	}
	users, next, err := a.cfg.Resources.Users(c.Request().Context(), q)
	if err != nil {
		return a.fail(c, err)
	}
	out := page[userResource]{Items: make([]userResource, 0, len(users)), NextCursor: positionCursor(listUsers, next)}
	for _, u := range users {
		out.Items = append(out.Items, toUser(u))
	}
	return c.JSON(http.StatusOK, out)
}

// userCreate is the body of POST /users.
type userCreate struct {
	Username            string   `json:"username"`
	Password            string   `json:"password"`
	Email               string   `json:"email"`
	EmailVerified       bool     `json:"email_verified"`
	Name                string   `json:"name"`
	GivenName           string   `json:"given_name"`
	FamilyName          string   `json:"family_name"`
	Picture             string   `json:"picture"`
	Locale              string   `json:"locale"`
	Zoneinfo            string   `json:"zoneinfo"`
	PhoneNumber         string   `json:"phone_number"`
	PhoneNumberVerified bool     `json:"phone_number_verified"`
	Groups              []string `json:"groups"`
}

func (a *API) createUser(c echo.Context) error {
	var in userCreate
	if ok, err := readJSON(c, &in, "application/json"); !ok {
		return err
	}
	ctx := c.Request().Context()
	u, err := a.cfg.Admin.CreateUser(ctx, usecase.NewUser{Username: in.Username, Password: in.Password, Email: in.Email,
		EmailVerified: in.EmailVerified, PhoneNumberVerified: in.PhoneNumberVerified, Groups: in.Groups,
		Profile: domain.Profile{Name: in.Name, GivenName: in.GivenName, FamilyName: in.FamilyName, Picture: in.Picture,
			Locale: in.Locale, Zoneinfo: in.Zoneinfo, PhoneNumber: in.PhoneNumber}})
	if err != nil {
		return a.fail(c, err)
	}
	if u, err = a.cfg.Admin.FindUser(ctx, u.ID); err != nil {
		return a.fail(c, err)
	}
	return created(c, "/users/"+u.ID, etagOf(u.UpdatedAt), toUser(u))
}

// user is the user of the path's :id (an id, or a username as the CLI's U).
func (a *API) user(c echo.Context) (domain.User, error) {
	return a.cfg.Admin.FindUser(c.Request().Context(), c.Param("id"))
}

func (a *API) getUser(c echo.Context) error {
	u, err := a.user(c)
	if err != nil {
		return a.fail(c, err)
	}
	return single(c, etagOf(u.UpdatedAt), toUser(u))
}

var (
	userPatchFields = []string{"email", "email_verified", "disabled", "name", "given_name", "family_name", "picture",
		"locale", "zoneinfo", "phone_number", "phone_number_verified", "groups"}
	userReadOnly = []string{"id", "username", "created_at", "updated_at", "password"}
)

func (a *API) patchUser(c echo.Context) error {
	ctx := c.Request().Context()
	u, err := a.user(c)
	if err != nil {
		return a.fail(c, err)
	}
	p, ok, err := readPatch(c, userPatchFields, userReadOnly)
	if !ok {
		return err
	}
	if ok, err := checkIfMatch(c, etagOf(u.UpdatedAt)); !ok {
		return err
	}
	// The update is made only on the version If-Match names, checked again on the user
	// as the update reads it (and writes it only if still so).
	ifMatch := c.Request().Header.Get("If-Match")
	up := usecase.UserUpdate{Precondition: func(cur domain.User) error {
		if !ifMatches(ifMatch, etagOf(cur.UpdatedAt)) {
			return errStale
		}
		return nil
	}}
	p.str("email", &up.Email)
	p.boolean("email_verified", &up.EmailVerified, false)
	p.boolean("disabled", &up.Disabled, false)
	p.boolean("phone_number_verified", &up.PhoneNumberVerified, false)
	pr := &up.Profile
	p.str("name", &pr.Name)
	p.str("given_name", &pr.GivenName)
	p.str("family_name", &pr.FamilyName)
	p.str("picture", &pr.Picture)
	p.str("locale", &pr.Locale)
	p.str("zoneinfo", &pr.Zoneinfo)
	p.str("phone_number", &pr.PhoneNumber)
	var groups *[]string
	p.list("groups", &groups)
	if bad, err := p.problem(c); bad {
		return err
	}
	if groups != nil {
		// The list replaces the user's groups: what is new is added, what is gone removed.
		for _, g := range *groups {
			if !slices.Contains(u.Groups, g) {
				up.AddGroups = append(up.AddGroups, g)
			}
		}
		for _, g := range u.Groups {
			if !slices.Contains(*groups, g) {
				up.RemoveGroups = append(up.RemoveGroups, g)
			}
		}
	}
	next, err := a.cfg.Admin.UpdateUser(ctx, u.ID, up)
	if err != nil {
		return a.fail(c, err)
	}
	if next, err = a.cfg.Admin.FindUser(ctx, next.ID); err != nil {
		return a.fail(c, err)
	}
	return single(c, etagOf(next.UpdatedAt), toUser(next))
}

func (a *API) deleteUser(c echo.Context) error {
	u, err := a.user(c)
	if err != nil {
		return a.fail(c, err)
	}
	if ok, err := checkIfMatch(c, etagOf(u.UpdatedAt)); !ok {
		return err
	}
	if err := a.cfg.Admin.DeleteUser(c.Request().Context(), u.ID); err != nil {
		return a.fail(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

// resetResult is the answer of reset-mfa: the keys of `users reset-mfa --json`
// (status reset or unchanged) and removed, the same said as a boolean.
type resetResult struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Removed bool   `json:"removed"`
}

func (a *API) resetMFA(c echo.Context) error {
	u, err := a.user(c)
	if err != nil {
		return a.fail(c, err)
	}
	removed, err := a.cfg.Factors.Reset(c.Request().Context(), u.ID)
	if err != nil {
		return a.fail(c, err)
	}
	status := "unchanged"
	if removed {
		status = "reset"
	}
	return c.JSON(http.StatusOK, resetResult{ID: u.ID, Status: status, Removed: removed})
}

// mailResult is the answer of password-reset.
type mailResult struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func (a *API) passwordReset(c echo.Context) error {
	u, err := a.user(c)
	if err != nil {
		return a.fail(c, err)
	}
	if err := a.cfg.Resources.SendPasswordReset(c.Request().Context(), u.ID); err != nil {
		return a.fail(c, err)
	}
	return c.JSON(http.StatusAccepted, mailResult{ID: u.ID, Status: "queued"})
}
